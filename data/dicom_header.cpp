// Loading a DICOM file and checking its header before any pixel is decoded (see dicom.h, dicom_detail.h).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcstack.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <cmath>
#include <filesystem>
#include <system_error>
#include <vector>

#include "engine/error.h"
#include "data/dicom_codecs.h"
#include "data/dicom_detail.h"

namespace pleura::data::detail {
namespace {

constexpr int64_t kMaxSide = 16384;

// The codec family of a supported transfer syntax; throws naming the UID for any other.
DicomCodec codec_for(E_TransferSyntax xfer, const std::string& uid, const std::string& path) {
  switch (xfer) {
    case EXS_LittleEndianImplicit:
    case EXS_LittleEndianExplicit:
    case EXS_BigEndianExplicit:
    case EXS_DeflatedLittleEndianExplicit:
      return DicomCodec::kUncompressed;
    case EXS_JPEGProcess1:
    case EXS_JPEGProcess2_4:
    case EXS_JPEGProcess14:
    case EXS_JPEGProcess14SV1:
      return DicomCodec::kJpeg;
    case EXS_JPEGLSLossless:
    case EXS_JPEGLSLossy:
      return DicomCodec::kJpegLs;
    case EXS_RLELossless:
      return DicomCodec::kRle;
    default:
      break;
  }
  const std::string name = xfer == EXS_Unknown ? std::string("unknown to DCMTK 3.6.7") : DcmXfer(xfer).getXferName();
  throw_error(cat(path, ": unsupported transfer syntax ", uid, " (", name,
                  "); supported: uncompressed, JPEG baseline/extended/lossless, JPEG-LS, RLE"));
}

uint16_t required_us(DcmDataset* ds, const DcmTagKey& tag, const char* name, const std::string& path) {
  Uint16 value = 0;
  PLEURA_CHECK(ds->findAndGetUint16(tag, value).good(), path, ": missing ", name, " ", tag.toString().c_str());
  return value;
}

double optional_ds(DcmDataset* ds, const DcmTagKey& tag, double fallback, const char* name,
                   const std::string& path) {
  Float64 value = 0;
  if (ds->findAndGetFloat64(tag, value, 0).bad()) return fallback;
  PLEURA_CHECK(std::isfinite(value), path, ": ", name, " is not a finite number");
  return value;
}

void read_mapping_attributes(DcmDataset* ds, DicomInfo& info, const std::string& path) {
  info.rescale_slope = optional_ds(ds, DCM_RescaleSlope, 1.0, "RescaleSlope", path);
  info.rescale_intercept = optional_ds(ds, DCM_RescaleIntercept, 0.0, "RescaleIntercept", path);
  PLEURA_CHECK(info.rescale_slope != 0.0, path, ": RescaleSlope is 0");
  OFString function;
  if (ds->findAndGetOFString(DCM_VOILUTFunction, function).good() && !function.empty()) {
    info.voi_function = function.c_str();
  }
  Float64 center = 0, width = 0;
  if (ds->findAndGetFloat64(DCM_WindowCenter, center, 0).good() &&
      ds->findAndGetFloat64(DCM_WindowWidth, width, 0).good() && std::isfinite(center) && std::isfinite(width)) {
    // PS3.3 C.11.2.1.2: LINEAR needs a width of at least 1, the other functions a positive one; an
    // unusable window is ignored (min-max instead).
    const bool usable = info.voi_function == "LINEAR" ? width >= 1.0 : width > 0.0;
    if (usable) {
      info.window_center = center;
      info.window_width = width;
    }
  }
  const bool direct = !info.is_signed && info.bits_stored <= 8;
  info.mapping = direct ? DicomMapping::kDirect8 : info.window_width ? DicomMapping::kWindow : DicomMapping::kMinMax;
}

// No element may claim more bytes than the whole file holds (DICOM validation before any pixel decoding;
// DCMTK leaves long values in the file and reads them only when asked).
void check_element_lengths(DcmFileFormat* file, uintmax_t file_size, const std::string& path) {
  DcmStack stack;
  while (file->nextObject(stack, OFTrue).good()) {
    DcmObject* object = stack.top();
    const Uint32 length = object->getLength();
    if (length == DCM_UndefinedLength || object->isLeaf() == OFFalse) continue;
    PLEURA_CHECK(length <= file_size, path, ": element ", object->getTag().toString().c_str(), " claims ", length,
                 " bytes, more than the whole file (", file_size, " bytes)");
  }
}

void check_pixel_data(DcmDataset* ds, LoadedDicom& dicom, const std::string& path) {
  const DicomInfo& info = dicom.info;
  DcmElement* element = nullptr;
  PLEURA_CHECK(ds->findAndGetElement(DCM_PixelData, element).good() && element != nullptr, path,
               ": no Pixel Data (7FE0,0010)");
  auto* pixel_data = dynamic_cast<DcmPixelData*>(element);
  PLEURA_CHECK(pixel_data != nullptr, path, ": Pixel Data (7FE0,0010) is not a pixel data element");
  if (dicom.codec == DicomCodec::kUncompressed) {
    const uint64_t expected = static_cast<uint64_t>(info.rows) * static_cast<uint64_t>(info.columns) *
                              static_cast<uint64_t>(info.bits_allocated / 8);
    const uint64_t length = element->getLength();
    const bool ok = length == expected || (expected % 2 == 1 && length == expected + 1);
    PLEURA_CHECK(ok, path, ": Pixel Data holds ", length, " bytes, expected rows*columns*bytes = ", info.rows,
                 "*", info.columns, "*", info.bits_allocated / 8, " = ", expected,
                 expected % 2 == 1 ? " (or one more, as padding)" : "");
    return;
  }
  DcmPixelSequence* sequence = nullptr;
  const bool has_sequence =
      pixel_data->getEncapsulatedRepresentation(static_cast<E_TransferSyntax>(dicom.transfer_syntax), nullptr,
                                                sequence)
          .good() &&
      sequence != nullptr;
  PLEURA_CHECK(has_sequence, path, ": Pixel Data is not encapsulated although the transfer syntax ",
               info.transfer_syntax_uid, " is compressed");
  // Item 0 is the basic offset table; fragments follow.
  PLEURA_CHECK(sequence->card() >= 2, path, ": encapsulated Pixel Data has no fragment");
  DcmPixelItem* fragment = nullptr;
  PLEURA_CHECK(sequence->getItem(fragment, 1).good() && fragment != nullptr && fragment->getLength() > 0, path,
               ": the first Pixel Data fragment is empty");
  // The codestream's headers: the first fragment, joined with the next ones when an encoder cut the
  // stream into small pieces (at most 64 KiB are looked at).
  std::vector<uint8_t> head;
  for (unsigned long k = 1; k < sequence->card() && head.size() < 65536; ++k) {
    Uint8* bytes = nullptr;
    PLEURA_CHECK(sequence->getItem(fragment, k).good() && fragment->getUint8Array(bytes).good() &&
                     (bytes != nullptr || fragment->getLength() == 0),
                 path, ": cannot read Pixel Data fragment ", k);
    head.insert(head.end(), bytes, bytes + fragment->getLength());
  }
  check_codestream(head.data(), head.size(), dicom, path);
}

}  // namespace

LoadedDicom load_and_check_dicom(const std::string& path) {
  ensure_dicom_codecs();
  std::error_code error;
  const uintmax_t file_size = std::filesystem::file_size(path, error);
  PLEURA_CHECK(!error, path, ": cannot read as DICOM (", error.message(), ")");
  LoadedDicom dicom;
  dicom.file = std::make_shared<DcmFileFormat>();
  // Values longer than DCM_MaxReadLength (4 KiB), the pixel data among them, stay in the file until used.
  const OFCondition status = dicom.file->loadFile(OFFilename(path.c_str()));
  PLEURA_CHECK(status.good(), path, ": cannot read as DICOM (", status.text(), "): the file (", file_size,
               " bytes) is truncated or is not a DICOM file");
  DcmDataset* ds = dicom.file->getDataset();
  DicomInfo& info = dicom.info;
  check_element_lengths(dicom.file.get(), file_size, path);
  // A file cut at an element boundary loads without error, but without its image: say so first, rather
  // than naming whichever attribute the cut removed.
  PLEURA_CHECK(ds->tagExists(DCM_PixelData), path, ": no Pixel Data (7FE0,0010): the file (", file_size,
               " bytes) ends before any image data (truncated?) or holds none");

  const E_TransferSyntax xfer = ds->getOriginalXfer();
  OFString uid;
  if (dicom.file->getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, uid).bad() || uid.empty()) {
    uid = xfer == EXS_Unknown ? "(none)" : DcmXfer(xfer).getXferID();
  }
  info.transfer_syntax_uid = uid.c_str();
  dicom.codec = codec_for(xfer, info.transfer_syntax_uid, path);
  dicom.transfer_syntax = static_cast<int>(xfer);
  info.transfer_syntax_name = DcmXfer(xfer).getXferName();
  info.encapsulated = dicom.codec != DicomCodec::kUncompressed;

  info.rows = required_us(ds, DCM_Rows, "Rows", path);
  info.columns = required_us(ds, DCM_Columns, "Columns", path);
  PLEURA_CHECK(info.rows >= 1 && info.rows <= kMaxSide && info.columns >= 1 && info.columns <= kMaxSide, path,
               ": image is ", info.rows, "x", info.columns, " (Rows x Columns); each must be 1..", kMaxSide);
  const int samples = required_us(ds, DCM_SamplesPerPixel, "SamplesPerPixel", path);
  PLEURA_CHECK(samples == 1, path, ": SamplesPerPixel is ", samples, ", only 1 (grey) is supported");
  info.bits_allocated = required_us(ds, DCM_BitsAllocated, "BitsAllocated", path);
  PLEURA_CHECK(info.bits_allocated == 8 || info.bits_allocated == 16, path, ": BitsAllocated is ",
               info.bits_allocated, ", only 8 or 16 are supported");
  info.bits_stored = required_us(ds, DCM_BitsStored, "BitsStored", path);
  PLEURA_CHECK(info.bits_stored >= 1 && info.bits_stored <= info.bits_allocated, path, ": BitsStored is ",
               info.bits_stored, ", expected 1..BitsAllocated (", info.bits_allocated, ")");
  Uint16 high_bit = static_cast<Uint16>(info.bits_stored - 1);
  ds->findAndGetUint16(DCM_HighBit, high_bit);
  PLEURA_CHECK(high_bit == info.bits_stored - 1, path, ": HighBit is ", high_bit, " with BitsStored ",
               info.bits_stored, "; only HighBit = BitsStored - 1 is supported");
  Uint16 representation = 0;
  ds->findAndGetUint16(DCM_PixelRepresentation, representation);
  PLEURA_CHECK(representation <= 1, path, ": PixelRepresentation is ", representation, ", expected 0 or 1");
  info.is_signed = representation == 1;
  OFString photometric;
  PLEURA_CHECK(ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric).good(), path,
               ": missing PhotometricInterpretation (0028,0004)");
  PLEURA_CHECK(photometric == "MONOCHROME1" || photometric == "MONOCHROME2", path,
               ": PhotometricInterpretation is '", photometric.c_str(),
               "', only MONOCHROME1 and MONOCHROME2 are supported");
  info.monochrome1 = photometric == "MONOCHROME1";
  Sint32 frames = 1;
  if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).good()) {
    PLEURA_CHECK(frames == 1, path, ": NumberOfFrames is ", frames, ", only single-frame images are supported");
  }
  read_mapping_attributes(ds, info, path);
  check_pixel_data(ds, dicom, path);
  return dicom;
}

}  // namespace pleura::data::detail
