// One-time DCMTK codec registration (see dicom_codecs.h).
#include "data/dicom_codecs.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/oflog/oflog.h>

#include <mutex>

#include "engine/error.h"

namespace pleura::data {

void ensure_dicom_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK would print its own warnings and errors to stderr; every failure reaches the caller as an
    // OFCondition that Pleura turns into an error message, so only fatal messages are left on.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    // Encoders keep the SOP Instance UID we set (DCMTK's default makes a new, random one for lossy
    // JPEG, which would break the synthetic data set's determinism). The lossy JPEG encoder must not
    // "use pixel values" (its default): it would subtract the image minimum from every pixel.
    DJEncoderRegistration::registerCodecs(ECC_lossyYCbCr, EUC_never, OFFalse, 0, 0, 0, OFTrue, ESS_422, OFTrue,
                                          OFFalse, 0, 0, 0.0, 0.0, 0, 0, 0, 0, /*pUsePixelValues=*/OFFalse);
    // JPEG-LS: raw (not "cooked") encoding and zero-byte padding. With DCMTK 3.6.7's defaults, its own
    // decoder refuses some 8-bit streams of random content ("Too much compressed data, trailing data
    // after image"); with these settings 117 of 117 such images round-tripped (tests/data).
    DJLSEncoderRegistration::registerCodecs(0, 0, 0, 0, /*preferCookedEncoding=*/OFFalse, 0, OFTrue, EJLSUC_never,
                                            OFFalse, DJLSCodecParameter::interleaveDefault,
                                            /*useFFbitstreamPadding=*/OFFalse);
    DcmRLEEncoderRegistration::registerCodecs(OFFalse);
  });
  // Without its dictionary DCMTK cannot tell the value types of implicit-VR files; say so plainly.
  PLEURA_CHECK(dcmDataDict.isDictionaryLoaded(), "DCMTK's data dictionary is not loaded (looked in ",
               DCM_DICT_DEFAULT_PATH, "; set DCMDICTPATH to the dicom.dic of the installed DCMTK)");
}

}  // namespace pleura::data
