// Writing 8-bit grey images as DICOM files through DCMTK: Secondary Capture objects shaped like the
// SIIM-ACR files (MONOCHROME2, 8 bits, modality CR, chest PA), compressed with DCMTK's JPEG baseline
// encoder by default. Used by the synthetic data set (synthetic_dataset.cpp); the tests also read these
// files back (tests/data/test_dicom.cpp).
#pragma once

#include <string>

#include "data/image.h"

namespace pleura::data {

enum class DicomCompression { kNone, kJpegBaseline, kJpegLossless, kJpegLs, kRle };

struct DicomWriteOptions {
  DicomCompression compression = DicomCompression::kJpegBaseline;
  int jpeg_quality = 95;  // kJpegBaseline only, 1..100
  // UIDs (digits and dots, at most 64 characters each); the SOP Instance UID is the SIIM ImageId.
  std::string sop_instance_uid, study_instance_uid, series_instance_uid;
  std::string patient_id = "anonymous";
  double pixel_spacing_mm = 0.168;
};

// Writes `image` (H x W, 0 = black) to `path` atomically (temporary file, then rename). Deterministic:
// the same image and options give the same bytes.
void write_dicom_gray8(const std::string& path, const GrayImage& image, const DicomWriteOptions& options);

}  // namespace pleura::data
