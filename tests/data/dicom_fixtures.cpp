// DICOM test files through DCMTK (see dicom_fixtures.h).
#include "tests/data/dicom_fixtures.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "data/dicom_codecs.h"

namespace pleura::testing {
namespace {

void check(const OFCondition& status, const std::string& what) {
  if (status.bad()) throw std::runtime_error("dicom fixture: " + what + ": " + status.text());
}

E_TransferSyntax xfer_of(FixtureSyntax s) {
  switch (s) {
    case FixtureSyntax::kExplicitLittle: return EXS_LittleEndianExplicit;
    case FixtureSyntax::kImplicitLittle: return EXS_LittleEndianImplicit;
    case FixtureSyntax::kExplicitBig: return EXS_BigEndianExplicit;
    case FixtureSyntax::kJpegBaseline: return EXS_JPEGProcess1;
    case FixtureSyntax::kJpegLossless: return EXS_JPEGProcess14SV1;
    case FixtureSyntax::kJpegLs: return EXS_JPEGLSLossless;
    case FixtureSyntax::kRle: return EXS_RLELossless;
    case FixtureSyntax::kFakeJpeg2000: return EXS_JPEG2000LosslessOnly;
  }
  return EXS_LittleEndianExplicit;
}

}  // namespace

void write_dicom_fixture(const std::string& path, const DicomFixture& f) {
  pleura::data::ensure_dicom_codecs();
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  check(ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage), "SOPClassUID");
  check(ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.3.4.5.6.7"), "SOPInstanceUID");
  check(ds->putAndInsertString(DCM_Modality, "OT"), "Modality");
  check(ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(f.rows)), "Rows");
  check(ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(f.columns)), "Columns");
  check(ds->putAndInsertUint16(DCM_SamplesPerPixel, 1), "SamplesPerPixel");
  check(ds->putAndInsertString(DCM_PhotometricInterpretation, f.photometric.c_str()), "Photometric");
  check(ds->putAndInsertUint16(DCM_BitsAllocated, static_cast<Uint16>(f.bits_allocated)), "BitsAllocated");
  check(ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(f.bits_stored)), "BitsStored");
  check(ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(f.bits_stored - 1)), "HighBit");
  check(ds->putAndInsertUint16(DCM_PixelRepresentation, f.is_signed ? 1 : 0), "PixelRepresentation");
  auto put_ds = [&](const DcmTagKey& tag, double v, const char* name) {
    check(ds->putAndInsertString(tag, std::to_string(v).c_str()), name);
  };
  if (f.window_center) put_ds(DCM_WindowCenter, *f.window_center, "WindowCenter");
  if (f.window_width) put_ds(DCM_WindowWidth, *f.window_width, "WindowWidth");
  if (!f.voi_function.empty()) check(ds->putAndInsertString(DCM_VOILUTFunction, f.voi_function.c_str()), "VOI");
  if (f.rescale_slope) put_ds(DCM_RescaleSlope, *f.rescale_slope, "RescaleSlope");
  if (f.rescale_intercept) put_ds(DCM_RescaleIntercept, *f.rescale_intercept, "RescaleIntercept");

  const size_t n = static_cast<size_t>(f.rows * f.columns);
  if (f.values.size() != n) throw std::runtime_error("dicom fixture: values do not match rows*columns");
  const E_TransferSyntax xfer = xfer_of(f.syntax);
  if (f.syntax == FixtureSyntax::kFakeJpeg2000 || f.empty_pixel_sequence) {
    auto* pixel_data = new DcmPixelData(DCM_PixelData);
    auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
    sequence->insert(new DcmPixelItem(DCM_PixelItemTag));  // empty basic offset table
    if (!f.empty_pixel_sequence) {
      auto* fragment = new DcmPixelItem(DCM_PixelItemTag);
      const Uint8 bytes[8] = {0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x2F, 0x00, 0x00};  // a J2K SOC + SIZ start
      check(fragment->putUint8Array(bytes, sizeof bytes), "fragment");
      sequence->insert(fragment);
    }
    pixel_data->putOriginalRepresentation(xfer, nullptr, sequence);
    check(ds->insert(pixel_data, OFTrue), "insert pixel data");
  } else if (!f.omit_pixel_data) {
    if (f.bits_allocated == 8) {
      std::vector<Uint8> bytes(n);
      for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<Uint8>(f.values[i]);
      const size_t keep = f.truncate_pixel_bytes ? static_cast<size_t>(*f.truncate_pixel_bytes) : n;
      check(ds->putAndInsertUint8Array(DCM_PixelData, bytes.data(), static_cast<unsigned long>(keep)), "PixelData");
    } else {
      std::vector<Uint16> words(n);
      for (size_t i = 0; i < n; ++i) words[i] = static_cast<Uint16>(f.values[i] & 0xffff);
      const size_t keep = f.truncate_pixel_bytes ? static_cast<size_t>(*f.truncate_pixel_bytes / 2) : n;
      check(ds->putAndInsertUint16Array(DCM_PixelData, words.data(), static_cast<unsigned long>(keep)), "PixelData");
    }
    std::unique_ptr<DcmRepresentationParameter> parameter;
    switch (f.syntax) {
      case FixtureSyntax::kJpegBaseline: parameter = std::make_unique<DJ_RPLossy>(f.jpeg_quality); break;
      case FixtureSyntax::kJpegLossless: parameter = std::make_unique<DJ_RPLossless>(1, 0); break;
      case FixtureSyntax::kJpegLs: parameter = std::make_unique<DJLSRepresentationParameter>(0, OFTrue); break;
      case FixtureSyntax::kRle: parameter = std::make_unique<DcmRLERepresentationParameter>(); break;
      default: break;
    }
    if (parameter) {
      check(ds->chooseRepresentation(xfer, parameter.get()), "compress");
      if (!ds->canWriteXfer(xfer)) throw std::runtime_error("dicom fixture: cannot write the compressed syntax");
    }
    if (f.split_fragments > 0) {
      // Rebuild the pixel data from the one compressed fragment, cut into pieces (an even size each).
      DcmElement* element = nullptr;
      check(ds->findAndGetElement(DCM_PixelData, element), "find pixel data");
      auto* pixel_data = dynamic_cast<DcmPixelData*>(element);
      DcmPixelSequence* old_sequence = nullptr;
      check(pixel_data->getEncapsulatedRepresentation(xfer, parameter.get(), old_sequence), "encapsulated");
      DcmPixelItem* item = nullptr;
      Uint8* bytes = nullptr;
      check(old_sequence->getItem(item, 1), "fragment");
      check(item->getUint8Array(bytes), "fragment bytes");
      const std::vector<Uint8> stream(bytes, bytes + item->getLength());
      auto* split = new DcmPixelData(DCM_PixelData);
      auto* sequence = new DcmPixelSequence(DCM_PixelSequenceTag);
      sequence->insert(new DcmPixelItem(DCM_PixelItemTag));
      for (size_t at = 0; at < stream.size(); at += static_cast<size_t>(f.split_fragments)) {
        const size_t n = std::min(stream.size() - at, static_cast<size_t>(f.split_fragments));
        auto* piece = new DcmPixelItem(DCM_PixelItemTag);
        check(piece->putUint8Array(stream.data() + at, static_cast<unsigned long>(n)), "piece");
        sequence->insert(piece);
      }
      split->putOriginalRepresentation(xfer, nullptr, sequence);
      check(ds->insert(split, OFTrue), "replace pixel data");
    }
  }
  if (f.rows_tag) check(ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(*f.rows_tag)), "Rows override");
  if (f.samples_tag) check(ds->putAndInsertUint16(DCM_SamplesPerPixel, static_cast<Uint16>(*f.samples_tag)), "SPP");
  if (f.bits_allocated_tag) check(ds->putAndInsertUint16(DCM_BitsAllocated, static_cast<Uint16>(*f.bits_allocated_tag)), "BA");
  if (f.bits_stored_tag) check(ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(*f.bits_stored_tag)), "BS");
  if (f.high_bit_tag) check(ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(*f.high_bit_tag)), "HB");
  if (f.frames_tag) check(ds->putAndInsertString(DCM_NumberOfFrames, std::to_string(*f.frames_tag).c_str()), "frames");
  if (f.photometric_tag) check(ds->putAndInsertString(DCM_PhotometricInterpretation, f.photometric_tag->c_str()), "PI");
  check(file.saveFile(path.c_str(), xfer), "save " + path);
}

}  // namespace pleura::testing
