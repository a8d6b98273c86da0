// DICOM decoding through DCMTK and the mapping of stored values to 8 bits (see dicom.h).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "data/dicom.h"
#include "data/dicom_detail.h"

namespace pleura::data {
namespace {

// DCMTK hands 16-bit pixel data over as host-order words and 8-bit data as the little-endian byte
// stream; the byte-level reasoning below assumes a little-endian host.
static_assert(std::endian::native == std::endian::little, "the DICOM reader assumes a little-endian host");

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// DICOM PS3.3 C.11.2.1.2 window functions, output range 0..255.
double apply_window(double x, double c, double w, const std::string& function) {
  if (function == "SIGMOID") return 255.0 / (1.0 + std::exp(-4.0 * (x - c) / w));
  if (function == "LINEAR_EXACT") {
    if (x <= c - w / 2) return 0.0;
    if (x > c + w / 2) return 255.0;
    return ((x - c) / w + 0.5) * 255.0;
  }
  // LINEAR (the default, and what an unknown function name falls back to).
  if (x <= c - 0.5 - (w - 1) / 2) return 0.0;
  if (x > c - 0.5 + (w - 1) / 2) return 255.0;
  return ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0;
}

// Stored values (BitsStored bits, sign-extended when signed) of every pixel.
std::vector<int32_t> stored_values(DcmDataset* ds, const DicomInfo& info, const std::string& path) {
  const size_t n = static_cast<size_t>(info.rows * info.columns);
  DcmElement* element = nullptr;
  PLEURA_CHECK(ds->findAndGetElement(DCM_PixelData, element).good() && element != nullptr, path,
               ": decoded Pixel Data is missing");
  const size_t bytes_needed = n * static_cast<size_t>(info.bits_allocated / 8);
  PLEURA_CHECK(element->getLength() >= bytes_needed, path, ": decoded Pixel Data holds ", element->getLength(),
               " bytes, expected ", bytes_needed);
  std::vector<int32_t> values(n);
  const uint32_t mask = info.bits_stored >= 32 ? 0xffffffffu : ((1u << info.bits_stored) - 1u);
  const uint32_t sign = 1u << (info.bits_stored - 1);
  auto convert = [&](uint32_t raw) {
    uint32_t v = raw & mask;  // bits above BitsStored (old overlay planes) are ignored
    return info.is_signed && (v & sign) ? static_cast<int32_t>(v) - static_cast<int32_t>(mask) - 1
                                         : static_cast<int32_t>(v);
  };
  if (info.bits_allocated == 8) {
    Uint8* bytes = nullptr;
    PLEURA_CHECK(element->getUint8Array(bytes).good() && bytes != nullptr, path, ": cannot read Pixel Data");
    for (size_t i = 0; i < n; ++i) values[i] = convert(bytes[i]);
  } else {
    Uint16* words = nullptr;
    PLEURA_CHECK(element->getUint16Array(words).good() && words != nullptr, path, ": cannot read Pixel Data");
    for (size_t i = 0; i < n; ++i) values[i] = convert(words[i]);
  }
  return values;
}

}  // namespace

DicomInfo read_dicom_info(const std::string& path) { return detail::load_and_check_dicom(path).info; }

GrayImage read_dicom(const std::string& path, DicomInfo* info_out) {
  detail::LoadedDicom dicom = detail::load_and_check_dicom(path);
  const DicomInfo& info = dicom.info;
  DcmDataset* ds = dicom.file->getDataset();
  if (dicom.codec != detail::DicomCodec::kUncompressed) {
    const OFCondition status = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    PLEURA_CHECK(status.good() && ds->canWriteXfer(EXS_LittleEndianExplicit), path,
                 ": cannot decode the pixel data (", info.transfer_syntax_name, "): ", status.text());
  }
  const std::vector<int32_t> values = stored_values(ds, info, path);
  GrayImage out(info.rows, info.columns);
  const size_t n = values.size();
  const double slope = info.rescale_slope, intercept = info.rescale_intercept;
  switch (info.mapping) {
    case DicomMapping::kDirect8:
      if (slope == 1.0 && intercept == 0.0) {
        for (size_t i = 0; i < n; ++i) out.pixels[i] = static_cast<uint8_t>(values[i]);
      } else {
        for (size_t i = 0; i < n; ++i) out.pixels[i] = to_byte(values[i] * slope + intercept);
      }
      break;
    case DicomMapping::kWindow:
      for (size_t i = 0; i < n; ++i) {
        out.pixels[i] = to_byte(apply_window(values[i] * slope + intercept, *info.window_center,
                                             *info.window_width, info.voi_function));
      }
      break;
    case DicomMapping::kMinMax: {
      const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
      // Modality values are monotonic in the stored ones (increasing or, with a negative slope,
      // decreasing), so their extremes come from the stored extremes.
      const double a = *lo_it * slope + intercept, b = *hi_it * slope + intercept;
      const double lo = std::min(a, b), range = std::max(a, b) - lo;
      for (size_t i = 0; i < n; ++i) {
        out.pixels[i] = range > 0 ? to_byte((values[i] * slope + intercept - lo) * 255.0 / range) : 0;
      }
      break;
    }
  }
  if (info.monochrome1) {
    for (uint8_t& p : out.pixels) p = static_cast<uint8_t>(255 - p);
  }
  if (info_out != nullptr) *info_out = info;
  return out;
}

}  // namespace pleura::data
