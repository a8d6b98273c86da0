// Test DICOM files made with DCMTK: any bit depth, sign, photometric interpretation, VOI window, rescale
// and transfer syntax, plus deliberate defects (header overrides applied after encoding, truncated or
// missing pixel data, a fake JPEG 2000 stream). Used by test_dicom.cpp and the tool tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pleura::testing {

enum class FixtureSyntax {
  kExplicitLittle,
  kImplicitLittle,
  kExplicitBig,
  kJpegBaseline,
  kJpegLossless,
  kJpegLs,
  kRle,
  kFakeJpeg2000,  // a single fragment of arbitrary bytes under transfer syntax 1.2.840.10008.1.2.4.90
};

struct DicomFixture {
  int64_t rows = 8, columns = 10;
  int bits_allocated = 8, bits_stored = 8;
  bool is_signed = false;
  std::string photometric = "MONOCHROME2";
  std::vector<int32_t> values;  // stored values, row-major, rows*columns of them
  std::optional<double> window_center, window_width;
  std::string voi_function;  // empty: attribute absent
  std::optional<double> rescale_slope, rescale_intercept;
  FixtureSyntax syntax = FixtureSyntax::kExplicitLittle;
  int jpeg_quality = 90;
  // Defects, applied after the pixel data is encoded:
  std::optional<int> rows_tag, samples_tag, bits_allocated_tag, bits_stored_tag, high_bit_tag, frames_tag;
  std::optional<std::string> photometric_tag;
  std::optional<int64_t> truncate_pixel_bytes;  // uncompressed only: keep this many bytes
  bool omit_pixel_data = false;
  bool empty_pixel_sequence = false;  // encapsulated: offset table only, no fragment
  int64_t split_fragments = 0;        // encapsulated: cut the codestream into fragments of this many bytes
};

// Writes the fixture to `path` (throws std::runtime_error when DCMTK refuses).
void write_dicom_fixture(const std::string& path, const DicomFixture& fixture);

}  // namespace pleura::testing
