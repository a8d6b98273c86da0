// Internals shared by dicom_header.cpp (loading and header checks), dicom_codestream.cpp (checks of the
// compressed bytes) and dicom_read.cpp (decoding and 8-bit mapping). Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "data/dicom.h"

class DcmFileFormat;

namespace pleura::data::detail {

// Which family of decoder a transfer syntax needs.
enum class DicomCodec { kUncompressed, kJpeg, kJpegLs, kRle };

struct LoadedDicom {
  std::shared_ptr<DcmFileFormat> file;
  DicomInfo info;
  DicomCodec codec = DicomCodec::kUncompressed;
  int transfer_syntax = 0;  // DCMTK's E_TransferSyntax of the pixel data as stored
};

// Loads `path` (pixel data stays on disk until accessed) and runs every header check of dicom.h.
LoadedDicom load_and_check_dicom(const std::string& path);

// Checks the start of encapsulated pixel data (its first fragments, joined): a JPEG / JPEG-LS frame
// header matching the DICOM header, or an RLE header with the expected segment count and offsets.
void check_codestream(const uint8_t* data, size_t size, const LoadedDicom& dicom, const std::string& path);

}  // namespace pleura::data::detail
