// Reading DICOM images as 8-bit grey (DCMTK). Supported: one frame, one sample per pixel
// (MONOCHROME1 / MONOCHROME2), 8 or 16 bits allocated, uncompressed (implicit / explicit little endian,
// explicit big endian, deflated) or JPEG baseline / extended / lossless, JPEG-LS, RLE. Anything else
// (JPEG 2000, ...) is an error naming the transfer syntax UID.
//
// Safety: Debian's DCMTK 3.6.7 predates fixes for several malformed-image CVEs, so the header is checked
// before any pixel is decoded: rows and columns 1..16384, SamplesPerPixel 1, BitsAllocated 8 or 16,
// BitsStored 1..BitsAllocated with HighBit = BitsStored-1, Pixel Data present and plausible (uncompressed:
// exactly rows*cols*bytes, plus one pad byte when that is odd; encapsulated: at least one non-empty
// fragment, whose JPEG / JPEG-LS frame header must match rows, columns and one component with a
// precision of at most BitsAllocated, or whose RLE header must list one segment per byte of a sample).
//
// 8-bit mapping (what read_dicom returns, row-major, 0 = black):
//  - unsigned data of at most 8 stored bits: the stored values, after RescaleSlope/Intercept when
//    present, rounded and clamped to 0..255 (the reference used SIIM's 8-bit values as they are; any VOI
//    window in such a file is ignored);
//  - more than 8 bits, or signed: modality values (slope * stored + intercept) go through the file's
//    first VOI window (WindowCenter/WindowWidth; LINEAR, LINEAR_EXACT or SIGMOID per VOILUTFunction, as
//    DICOM PS3.3 C.11.2.1.2 defines them) when it has one, else are stretched linearly from their
//    minimum to their maximum over the image (min-max; a constant image gives 0). A VOI LUT table
//    (VOILUTSequence) is not applied.
//  - MONOCHROME1 (0 = white) is inverted last: out = 255 - out.
// Tests: tests/data/test_dicom.cpp (the real SIIM file, generated files, malformed files).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "data/image.h"

namespace pleura::data {

enum class DicomMapping { kDirect8, kWindow, kMinMax };

struct DicomInfo {
  int64_t rows = 0, columns = 0;
  int bits_allocated = 0, bits_stored = 0;
  bool is_signed = false;
  bool monochrome1 = false;
  bool encapsulated = false;
  std::string transfer_syntax_uid, transfer_syntax_name;
  double rescale_slope = 1.0, rescale_intercept = 0.0;
  std::optional<double> window_center, window_width;  // first values, when present and usable
  std::string voi_function = "LINEAR";
  DicomMapping mapping = DicomMapping::kDirect8;  // what read_dicom applies
};

// Loads the file and runs every header check above, without decoding pixels.
DicomInfo read_dicom_info(const std::string& path);

// Header checks, decoding, then the 8-bit mapping above. `info` (optional) receives the header.
GrayImage read_dicom(const std::string& path, DicomInfo* info = nullptr);

}  // namespace pleura::data
