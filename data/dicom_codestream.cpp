// Checks of compressed DICOM fragments before DCMTK decodes them (see dicom_detail.h): the decoders
// size their output from the DICOM header, so a codestream that disagrees with it is refused here.
#include "data/dicom_detail.h"

#include "engine/error.h"

namespace pleura::data::detail {
namespace {

uint32_t read_u16_be(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t read_u32_le(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// Start-of-frame markers: SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), plus JPEG-LS SOF55 (F7).
bool is_sof(uint8_t m) { return (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) || m == 0xF7; }

void check_jpeg(const uint8_t* p, size_t n, const LoadedDicom& dicom, const std::string& path) {
  const DicomInfo& info = dicom.info;
  PLEURA_CHECK(n >= 4 && p[0] == 0xFF && p[1] == 0xD8, path,
               ": the first pixel data fragment does not start with a JPEG SOI marker");
  size_t i = 2;
  while (i + 1 < n) {
    PLEURA_CHECK(p[i] == 0xFF, path, ": malformed JPEG stream (byte ", i, " is not a marker)");
    uint8_t marker = p[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // markers without a length
      i += 2;
      continue;
    }
    PLEURA_CHECK(marker != 0xDA && marker != 0xD9, path,
                 ": JPEG stream reaches its scan before any frame header (SOF)");
    PLEURA_CHECK(i + 4 <= n, path, ": JPEG stream truncated in a marker segment");
    const size_t length = read_u16_be(p + i + 2);
    PLEURA_CHECK(length >= 2 && i + 2 + length <= n, path, ": JPEG marker segment of length ", length,
                 " runs past the fragment (", n, " bytes)");
    if (is_sof(marker)) {
      PLEURA_CHECK(length >= 8, path, ": JPEG frame header too short (", length, " bytes)");
      const int precision = p[i + 4];
      const int64_t height = read_u16_be(p + i + 5), width = read_u16_be(p + i + 7);
      const int components = p[i + 9];
      PLEURA_CHECK(height == info.rows && width == info.columns, path, ": JPEG frame is ", height, "x",
                   width, " (rows x columns) but the DICOM header says ", info.rows, "x", info.columns);
      PLEURA_CHECK(components == 1, path, ": JPEG frame has ", components,
                   " components, expected 1 (SamplesPerPixel 1)");
      PLEURA_CHECK(precision >= 2 && precision <= info.bits_allocated, path, ": JPEG precision ", precision,
                   " bits does not fit BitsAllocated ", info.bits_allocated);
      return;
    }
    i += 2 + length;
  }
  throw_error(cat(path, ": no JPEG frame header (SOF) in the first pixel data fragment"));
}

void check_rle(const uint8_t* p, size_t n, const LoadedDicom& dicom, const std::string& path) {
  PLEURA_CHECK(n >= 64, path, ": RLE fragment of ", n, " bytes is shorter than its 64-byte header");
  const uint32_t segments = read_u32_le(p);
  const uint32_t expected = static_cast<uint32_t>(dicom.info.bits_allocated / 8);
  PLEURA_CHECK(segments == expected, path, ": RLE header lists ", segments, " segments, expected ", expected,
               " (one per byte of a ", dicom.info.bits_allocated, "-bit sample)");
  uint32_t previous = 0;
  for (uint32_t s = 0; s < segments; ++s) {
    const uint32_t offset = read_u32_le(p + 4 + 4 * s);
    PLEURA_CHECK(offset >= 64 && offset > previous && offset < n, path, ": RLE segment ", s + 1,
                 " offset ", offset, " is outside the fragment (", n, " bytes) or out of order");
    previous = offset;
  }
}

}  // namespace

void check_codestream(const uint8_t* data, size_t size, const LoadedDicom& dicom, const std::string& path) {
  switch (dicom.codec) {
    case DicomCodec::kJpeg:
    case DicomCodec::kJpegLs:
      check_jpeg(data, size, dicom, path);
      return;
    case DicomCodec::kRle:
      check_rle(data, size, dicom, path);
      return;
    case DicomCodec::kUncompressed:
      return;
  }
}

}  // namespace pleura::data::detail
