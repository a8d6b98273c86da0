// 8-bit DICOM writing through DCMTK (see dicom_write.h).
#include "data/dicom_write.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djrparam.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/error.h"
#include "data/dicom_codecs.h"

namespace pleura::data {
namespace {

bool valid_uid(const std::string& uid) {
  if (uid.empty() || uid.size() > 64) return false;
  for (char c : uid) {
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return true;
}

void put(DcmDataset* ds, const DcmTagKey& tag, const std::string& value, const std::string& path) {
  const OFCondition status = ds->putAndInsertString(tag, value.c_str());
  PLEURA_CHECK(status.good(), "[write_dicom] ", path, ": cannot set ", tag.toString().c_str(), ": ",
               status.text());
}

void put_us(DcmDataset* ds, const DcmTagKey& tag, int64_t value, const std::string& path) {
  const OFCondition status = ds->putAndInsertUint16(tag, static_cast<Uint16>(value));
  PLEURA_CHECK(status.good(), "[write_dicom] ", path, ": cannot set ", tag.toString().c_str(), ": ",
               status.text());
}

void check_request(const std::string& path, const GrayImage& image, const DicomWriteOptions& options) {
  PLEURA_CHECK(image.height >= 1 && image.width >= 1 && image.height <= 16384 && image.width <= 16384,
               "[write_dicom] ", path, ": image is ", image.height, "x", image.width, ", each side must be 1..16384");
  PLEURA_CHECK(static_cast<int64_t>(image.pixels.size()) == image.height * image.width, "[write_dicom] ", path,
               ": pixel buffer holds ", image.pixels.size(), " bytes, expected ", image.height * image.width);
  for (const std::string* uid : {&options.sop_instance_uid, &options.study_instance_uid, &options.series_instance_uid}) {
    PLEURA_CHECK(valid_uid(*uid), "[write_dicom] ", path, ": '", *uid,
                 "' is not a DICOM UID (digits and dots, 1..64 characters)");
  }
  PLEURA_CHECK(options.jpeg_quality >= 1 && options.jpeg_quality <= 100, "[write_dicom] JPEG quality ",
               options.jpeg_quality, " is outside 1..100");
}

// The identifying and image-describing elements, then the 8-bit pixels.
void put_elements(DcmDataset* ds, const std::string& path, const GrayImage& image, const DicomWriteOptions& options) {
  put(ds, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage, path);
  put(ds, DCM_SOPInstanceUID, options.sop_instance_uid, path);
  put(ds, DCM_StudyInstanceUID, options.study_instance_uid, path);
  put(ds, DCM_SeriesInstanceUID, options.series_instance_uid, path);
  put(ds, DCM_PatientID, options.patient_id, path);
  put(ds, DCM_PatientName, options.patient_id, path);
  put(ds, DCM_Modality, "CR", path);
  put(ds, DCM_ConversionType, "WSD", path);
  put(ds, DCM_BodyPartExamined, "CHEST", path);
  put(ds, DCM_ViewPosition, "PA", path);
  char spacing[64];
  std::snprintf(spacing, sizeof spacing, "%.6g\\%.6g", options.pixel_spacing_mm, options.pixel_spacing_mm);
  put(ds, DCM_PixelSpacing, spacing, path);
  put_us(ds, DCM_SamplesPerPixel, 1, path);
  put(ds, DCM_PhotometricInterpretation, "MONOCHROME2", path);
  put_us(ds, DCM_Rows, image.height, path);
  put_us(ds, DCM_Columns, image.width, path);
  put_us(ds, DCM_BitsAllocated, 8, path);
  put_us(ds, DCM_BitsStored, 8, path);
  put_us(ds, DCM_HighBit, 7, path);
  put_us(ds, DCM_PixelRepresentation, 0, path);
  const OFCondition pixel_status =
      ds->putAndInsertUint8Array(DCM_PixelData, image.pixels.data(), static_cast<unsigned long>(image.pixels.size()));
  PLEURA_CHECK(pixel_status.good(), "[write_dicom] ", path, ": cannot set Pixel Data: ", pixel_status.text());
}

// Compresses the pixels as `options` asks; returns the transfer syntax to save with.
E_TransferSyntax compress(DcmDataset* ds, const std::string& path, const DicomWriteOptions& options) {
  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  std::unique_ptr<DcmRepresentationParameter> parameter;
  switch (options.compression) {
    case DicomCompression::kNone:
      break;
    case DicomCompression::kJpegBaseline:
      xfer = EXS_JPEGProcess1;
      parameter = std::make_unique<DJ_RPLossy>(options.jpeg_quality);
      break;
    case DicomCompression::kJpegLossless:
      xfer = EXS_JPEGProcess14SV1;
      parameter = std::make_unique<DJ_RPLossless>(1, 0);
      break;
    case DicomCompression::kJpegLs:
      xfer = EXS_JPEGLSLossless;
      parameter = std::make_unique<DJLSRepresentationParameter>(0, OFTrue);
      break;
    case DicomCompression::kRle:
      xfer = EXS_RLELossless;
      parameter = std::make_unique<DcmRLERepresentationParameter>();
      break;
  }
  if (xfer != EXS_LittleEndianExplicit) {
    const OFCondition status = ds->chooseRepresentation(xfer, parameter.get());
    PLEURA_CHECK(status.good() && ds->canWriteXfer(xfer), "[write_dicom] ", path, ": cannot compress to ",
                 DcmXfer(xfer).getXferName(), ": ", status.text());
  }
  return xfer;
}

// Saves under a temporary name unique within the process and across processes, renamed over `path` at the end.
void save_atomically(DcmFileFormat& file, const std::string& path, E_TransferSyntax xfer) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
  const OFCondition saved = file.saveFile(tmp.c_str(), xfer);
  if (saved.bad()) {
    std::remove(tmp.c_str());
    throw_error(cat("[write_dicom] cannot write '", path, "' (through its temporary file): ", saved.text()));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw_error(cat("[write_dicom] cannot write '", path, "': renaming its temporary file failed: ",
                    std::strerror(errno)));
  }
}

}  // namespace

void write_dicom_gray8(const std::string& path, const GrayImage& image, const DicomWriteOptions& options) {
  check_request(path, image, options);
  ensure_dicom_codecs();
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  put_elements(ds, path, image, options);
  const E_TransferSyntax xfer = compress(ds, path, options);
  save_atomically(file, path, xfer);
}

}  // namespace pleura::data
