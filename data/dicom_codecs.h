// DCMTK set-up shared by the DICOM reader and writer: registers, once per process and thread-safely,
// the JPEG (baseline, extended, lossless), JPEG-LS and RLE decoders and encoders, and quiets DCMTK's
// own logging (Pleura reports errors itself). Used by dicom_read.cpp, dicom_write.cpp and the tests.
#pragma once

namespace pleura::data {

void ensure_dicom_codecs();

}  // namespace pleura::data
