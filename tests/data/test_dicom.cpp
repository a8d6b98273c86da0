// Tests of data/dicom.h and dicom_write.h: the real SIIM file (decoded bytes pinned by SHA-256),
// files generated with DCMTK in every supported transfer syntax and bit depth, the 8-bit mappings
// (direct, VOI window, min-max, rescale, MONOCHROME1) worked by hand, and malformed files.
#include <numeric>

#include "engine/file_io.h"

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/data/dicom_fixtures.h"
#include "data/dicom.h"
#include "data/dicom_write.h"

using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

namespace {

const std::string kSiimDicom = std::string(PLEURA_FIXTURES_DIR) +
                               "/siim/1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm";

GrayImage read_fixture(const TempDir& dir, const DicomFixture& f, const std::string& name = "f.dcm") {
  write_dicom_fixture(dir.file(name), f);
  return read_dicom(dir.file(name));
}

DicomFixture fixture_with(std::vector<int32_t> values, int64_t rows, int64_t columns, int bits = 8) {
  DicomFixture f;
  f.rows = rows;
  f.columns = columns;
  f.bits_allocated = bits > 8 ? 16 : 8;
  f.bits_stored = bits;
  f.values = std::move(values);
  return f;
}

std::vector<int32_t> random_values(size_t n, uint64_t seed, int32_t lo, int32_t hi) {
  Rng rng(seed);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = lo + static_cast<int32_t>(rng.below(static_cast<uint64_t>(hi - lo + 1)));
  return v;
}

}  // namespace

TEST_CASE("sha256: FIPS 180-4 test vectors") {
  CHECK(sha256_hex("abc", 3) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("", 0) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_hex(two_blocks.data(), two_blocks.size()) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("dicom: the real SIIM file decodes to the pinned pixels") {
  DicomInfo info;
  GrayImage img = read_dicom(kSiimDicom, &info);
  REQUIRE(img.height == 1024);
  REQUIRE(img.width == 1024);
  // Reference values from a second, independent decoder (tests/fixtures/README.md, shared/data/README.md).
  CHECK(sha256_hex(img.pixels) == "938432fbb18d79f48568dc5b1fb06ffd2ace4a4ded4bfc490c35981e58f053fb");
  CHECK(std::accumulate(img.pixels.begin(), img.pixels.end(), int64_t{0}) == 168189534);
  CHECK(img.at(512, 512) == 208);
  CHECK(info.transfer_syntax_uid == "1.2.840.10008.1.2.4.50");
  CHECK(info.bits_allocated == 8);
  CHECK(!info.monochrome1);
  CHECK(info.mapping == DicomMapping::kDirect8);
  DicomInfo header_only = read_dicom_info(kSiimDicom);
  CHECK(header_only.rows == 1024);
  CHECK(header_only.encapsulated);
}

TEST_CASE("dicom: uncompressed 8-bit files in three transfer syntaxes give the stored values") {
  TempDir dir;
  const std::vector<int32_t> values = random_values(8 * 10, 11, 0, 255);
  for (FixtureSyntax syntax : {FixtureSyntax::kExplicitLittle, FixtureSyntax::kImplicitLittle, FixtureSyntax::kExplicitBig}) {
    DicomFixture f = fixture_with(values, 8, 10);
    f.syntax = syntax;
    GrayImage img = read_fixture(dir, f);
    REQUIRE(img.pixels.size() == values.size());
    for (size_t i = 0; i < values.size(); ++i) CHECK(img.pixels[i] == values[i]);
  }
}

TEST_CASE("dicom: odd-sized 8-bit image (padded pixel data) reads back exactly") {
  TempDir dir;
  const std::vector<int32_t> values = random_values(3 * 5, 12, 0, 255);
  GrayImage img = read_fixture(dir, fixture_with(values, 3, 5));
  for (size_t i = 0; i < values.size(); ++i) CHECK(img.pixels[i] == values[i]);
}

TEST_CASE("dicom: MONOCHROME1 is inverted") {
  TempDir dir;
  DicomFixture f = fixture_with({0, 10, 200, 255}, 2, 2);
  f.photometric = "MONOCHROME1";
  GrayImage img = read_fixture(dir, f);
  CHECK(img.pixels == std::vector<uint8_t>{255, 245, 55, 0});
}

TEST_CASE("dicom: 8-bit data with a rescale is shifted and clamped; its VOI window is ignored") {
  TempDir dir;
  DicomFixture f = fixture_with({0, 100, 240, 250}, 2, 2);
  f.rescale_slope = 1.0;
  f.rescale_intercept = 10.0;
  f.window_center = 50;
  f.window_width = 10;
  GrayImage img = read_fixture(dir, f);
  // 0+10, 100+10, 240+10, 250+10 clamped to 255.
  CHECK(img.pixels == std::vector<uint8_t>{10, 110, 250, 255});
}

TEST_CASE("dicom: 16-bit data through the file's LINEAR window (worked example)") {
  TempDir dir;
  // c = 1000.5, w = 201: x <= 900 -> 0, x > 1100 -> 255, else ((x - 1000) / 200 + 0.5) * 255 rounded:
  // 950 -> 63.75 -> 64, 1000 -> 127.5 -> 128, 1050 -> 191.25 -> 191, 1100 -> 255.
  DicomFixture f = fixture_with({0, 900, 950, 1000, 1050, 1100, 1101, 4095}, 2, 4, 12);
  f.window_center = 1000.5;
  f.window_width = 201;
  DicomInfo info;
  write_dicom_fixture(dir.file("w.dcm"), f);
  GrayImage img = read_dicom(dir.file("w.dcm"), &info);
  CHECK(info.mapping == DicomMapping::kWindow);
  CHECK(img.pixels == std::vector<uint8_t>{0, 0, 64, 128, 191, 255, 255, 255});
}

TEST_CASE("dicom: LINEAR_EXACT and SIGMOID windows") {
  TempDir dir;
  DicomFixture f = fixture_with({900, 950, 1000, 1100}, 2, 2, 12);
  f.window_center = 1000;
  f.window_width = 200;
  f.voi_function = "LINEAR_EXACT";
  // ((x - 1000) / 200 + 0.5) * 255: 900 -> 0 (x <= c - w/2), 950 -> 63.75 -> 64, 1000 -> 127.5 -> 128, 1100 -> 255.
  CHECK(read_fixture(dir, f).pixels == std::vector<uint8_t>{0, 64, 128, 255});
  f.voi_function = "SIGMOID";
  // 255 / (1 + exp(-4 (x - 1000) / 200)): 900 -> 255/(1+e^2) = 30.46 -> 30; 950 -> 255/(1+e) = 68.6 -> 69;
  // 1000 -> 127.5 -> 128; 1100 -> 255/(1+e^-2) = 224.5 -> 225 (224.54).
  CHECK(read_fixture(dir, f).pixels == std::vector<uint8_t>{30, 69, 128, 225});
}

TEST_CASE("dicom: 16-bit data without a window is stretched min-max") {
  TempDir dir;
  // (v - 100) * 255 / 1000: 100 -> 0, 200 -> 25.5 -> 26, 300 -> 51, 1100 -> 255.
  DicomFixture f = fixture_with({100, 200, 300, 1100}, 2, 2, 16);
  DicomInfo info;
  write_dicom_fixture(dir.file("m.dcm"), f);
  GrayImage img = read_dicom(dir.file("m.dcm"), &info);
  CHECK(info.mapping == DicomMapping::kMinMax);
  CHECK(img.pixels == std::vector<uint8_t>{0, 26, 51, 255});
  f.photometric = "MONOCHROME1";
  CHECK(read_fixture(dir, f).pixels == std::vector<uint8_t>{255, 229, 204, 0});
}

TEST_CASE("dicom: the rescale is applied before the window") {
  TempDir dir;
  // Modality value m = 2 s - 1024; window c = 0.5, w = 201 spans m in (-100, 100]:
  // s = 487 -> m = -50 -> 63.75 -> 64; s = 512 -> 0 -> 127.5 -> 128; s = 562 -> 100 -> 255; s = 400 -> -224 -> 0.
  DicomFixture f = fixture_with({487, 512, 562, 400}, 2, 2, 12);
  f.rescale_slope = 2;
  f.rescale_intercept = -1024;
  f.window_center = 0.5;
  f.window_width = 201;
  CHECK(read_fixture(dir, f).pixels == std::vector<uint8_t>{64, 128, 255, 0});
}

TEST_CASE("dicom: signed 16-bit data and bits above BitsStored") {
  TempDir dir;
  DicomFixture f = fixture_with({-1000, 0, 1000, 500}, 2, 2, 12);
  f.is_signed = true;
  // min-max over -1000..1000: (v + 1000) * 255 / 2000: 0 -> 127.5 -> 128, 500 -> 191.25 -> 191.
  CHECK(read_fixture(dir, f).pixels == std::vector<uint8_t>{0, 128, 255, 191});
  // Unsigned 12-bit values with junk in bits 12..15 (an old overlay plane): the junk is ignored.
  DicomFixture g = fixture_with({0x1000 | 100, 0xF000 | 200, 300, 1100}, 2, 2, 12);
  CHECK(read_fixture(dir, g).pixels == std::vector<uint8_t>{0, 26, 51, 255});
}

TEST_CASE("dicom: lossless compressed files decode to the same image as the uncompressed one") {
  TempDir dir;
  for (int bits : {8, 12, 16}) {
    CAPTURE(bits);
    const int32_t max_value = (1 << bits) - 1;
    DicomFixture f = fixture_with(random_values(24 * 17, 20 + static_cast<uint64_t>(bits), 0, max_value), 24, 17, bits);
    GrayImage reference = read_fixture(dir, f, "plain.dcm");
    for (FixtureSyntax syntax : {FixtureSyntax::kJpegLossless, FixtureSyntax::kJpegLs, FixtureSyntax::kRle}) {
      if (syntax == FixtureSyntax::kJpegLs && bits == 16) continue;  // CharLS in DCMTK 3.6.7 encodes up to 16 bits
      CAPTURE(static_cast<int>(syntax));
      f.syntax = syntax;
      DicomInfo info;
      write_dicom_fixture(dir.file("c.dcm"), f);
      GrayImage img = read_dicom(dir.file("c.dcm"), &info);
      CHECK(info.encapsulated);
      CHECK(img.pixels == reference.pixels);
    }
  }
}

TEST_CASE("dicom: JPEG-LS round trips random 8-bit images (regression for DCMTK 3.6.7's encoder defaults)") {
  TempDir dir;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const int64_t rows = 16 + static_cast<int64_t>(seed % 3) * 24, columns = 16 + static_cast<int64_t>(seed % 4) * 16;
    CAPTURE(seed);
    DicomFixture f = fixture_with(random_values(static_cast<size_t>(rows * columns), 100 + seed, 0, 255), rows, columns);
    f.syntax = FixtureSyntax::kJpegLs;
    GrayImage img = read_fixture(dir, f);
    for (size_t i = 0; i < f.values.size(); ++i) REQUIRE(img.pixels[i] == f.values[i]);
  }
}

TEST_CASE("dicom: a JPEG stream cut into many small fragments decodes like the whole one") {
  TempDir dir;
  DicomFixture f = fixture_with(random_values(40 * 30, 31, 0, 4095), 40, 30, 12);
  f.syntax = FixtureSyntax::kJpegLossless;
  const GrayImage whole = read_fixture(dir, f, "whole.dcm");
  f.split_fragments = 64;  // the frame header itself spans several fragments
  const GrayImage pieces = read_fixture(dir, f, "pieces.dcm");
  CHECK(pieces.pixels == whole.pixels);
}

TEST_CASE("dicom: JPEG baseline 8-bit stays close to the original") {
  TempDir dir;
  std::vector<int32_t> values(64 * 48);
  for (int64_t y = 0; y < 64; ++y) {
    for (int64_t x = 0; x < 48; ++x) values[static_cast<size_t>(y * 48 + x)] = static_cast<int32_t>(40 + 2 * y + x);
  }
  DicomFixture f = fixture_with(values, 64, 48);
  f.syntax = FixtureSyntax::kJpegBaseline;
  f.jpeg_quality = 95;
  DicomInfo info;
  write_dicom_fixture(dir.file("j.dcm"), f);
  GrayImage img = read_dicom(dir.file("j.dcm"), &info);
  CHECK(info.transfer_syntax_uid == "1.2.840.10008.1.2.4.50");
  int max_diff = 0;
  for (size_t i = 0; i < values.size(); ++i) max_diff = std::max(max_diff, std::abs(img.pixels[i] - values[i]));
  // A smooth ramp at quality 95 loses at most a few levels (lossy quantisation of the DCT).
  CHECK(max_diff <= 3);
}

TEST_CASE("dicom: write_dicom_gray8 round trips in every compression") {
  TempDir dir;
  const GrayImage image = random_gray(33, 47, 5);
  DicomWriteOptions options;
  options.sop_instance_uid = "2.25.1";
  options.study_instance_uid = "2.25.2";
  options.series_instance_uid = "2.25.3";
  for (DicomCompression c : {DicomCompression::kNone, DicomCompression::kJpegLossless, DicomCompression::kJpegLs,
                             DicomCompression::kRle}) {
    options.compression = c;
    write_dicom_gray8(dir.file("w.dcm"), image, options);
    CHECK(read_dicom(dir.file("w.dcm")).pixels == image.pixels);
  }
  options.compression = DicomCompression::kJpegBaseline;
  write_dicom_gray8(dir.file("a.dcm"), image, options);
  write_dicom_gray8(dir.file("b.dcm"), image, options);
  CHECK(slurp(dir.file("a.dcm")) == slurp(dir.file("b.dcm")));  // deterministic bytes
  CHECK(read_dicom_info(dir.file("a.dcm")).transfer_syntax_uid == "1.2.840.10008.1.2.4.50");
  options.sop_instance_uid = "not-a-uid";
  expect_error([&] { write_dicom_gray8(dir.file("c.dcm"), image, options); }, {"not-a-uid", "not a DICOM UID"});
}

TEST_CASE("dicom: malformed headers are refused before decoding, with the field and value") {
  TempDir dir;
  const std::string path = dir.file("bad.dcm");
  auto expect_bad = [&](const DicomFixture& f, const std::vector<std::string>& parts) {
    write_dicom_fixture(path, f);
    std::vector<std::string> with_path = parts;
    with_path.push_back(path);
    expect_error([&] { read_dicom(path); }, with_path);
    expect_error([&] { read_dicom_info(path); }, with_path);
  };
  const DicomFixture good = fixture_with(random_values(8 * 10, 3, 0, 255), 8, 10);
  DicomFixture f = good;
  f.rows_tag = 20000;
  expect_bad(f, {"20000x10", "Rows x Columns", "1..16384"});
  f = good;
  f.samples_tag = 3;
  expect_bad(f, {"SamplesPerPixel is 3"});
  f = good;
  f.bits_allocated_tag = 12;
  expect_bad(f, {"BitsAllocated is 12", "8 or 16"});
  f = good;
  f.bits_stored_tag = 9;
  expect_bad(f, {"BitsStored is 9"});
  f = good;
  f.high_bit_tag = 3;
  expect_bad(f, {"HighBit is 3"});
  f = good;
  f.truncate_pixel_bytes = 60;
  expect_bad(f, {"Pixel Data holds 60 bytes", "expected rows*columns*bytes = 8*10*1 = 80"});
  f = good;
  f.omit_pixel_data = true;
  expect_bad(f, {"no Pixel Data (7FE0,0010)"});
  f = good;
  f.photometric_tag = "PALETTE COLOR";
  expect_bad(f, {"PhotometricInterpretation is 'PALETTE COLOR'"});
  f = good;
  f.frames_tag = 2;
  expect_bad(f, {"NumberOfFrames is 2"});
  f = good;
  f.syntax = FixtureSyntax::kFakeJpeg2000;
  expect_bad(f, {"unsupported transfer syntax 1.2.840.10008.1.2.4.90", "JPEG 2000"});
  f = good;
  f.syntax = FixtureSyntax::kRle;
  f.empty_pixel_sequence = true;
  expect_bad(f, {"encapsulated Pixel Data has no fragment"});
}

TEST_CASE("dicom: compressed streams that disagree with the header are refused before decoding") {
  TempDir dir;
  const std::string path = dir.file("bad.dcm");
  DicomFixture f = fixture_with(random_values(16 * 12, 4, 0, 255), 16, 12);
  f.syntax = FixtureSyntax::kJpegBaseline;
  f.rows_tag = 32;  // the JPEG frame still says 16 rows
  write_dicom_fixture(path, f);
  expect_error([&] { read_dicom(path); }, {path, "JPEG frame is 16x12", "DICOM header says 32x12"});
  f.syntax = FixtureSyntax::kJpegLs;
  write_dicom_fixture(path, f);
  expect_error([&] { read_dicom(path); }, {path, "JPEG frame is 16x12"});
  // An 8-bit RLE stream (one segment) under a header claiming 16-bit samples.
  f = fixture_with(random_values(16 * 12, 4, 0, 255), 16, 12);
  f.syntax = FixtureSyntax::kRle;
  f.bits_allocated_tag = 16;
  f.bits_stored_tag = 16;
  f.high_bit_tag = 15;
  write_dicom_fixture(path, f);
  expect_error([&] { read_dicom(path); }, {path, "RLE header lists 1 segments, expected 2"});
  // A JPEG stream of 8-bit precision is fine under BitsAllocated 16 (it fits); 12-bit in 8 is not.
  f = fixture_with(random_values(16 * 12, 5, 0, 4095), 16, 12, 12);
  f.syntax = FixtureSyntax::kJpegLossless;
  f.bits_allocated_tag = 8;
  f.bits_stored_tag = 8;
  f.high_bit_tag = 7;
  write_dicom_fixture(path, f);
  expect_error([&] { read_dicom(path); }, {path, "JPEG precision", "bits does not fit BitsAllocated 8"});
}

TEST_CASE("dicom: files that are not DICOM, or missing, are named in the error") {
  TempDir dir;
  const std::string text = dir.file("notes.dcm");
  {
    FILE* f = std::fopen(text.c_str(), "wb");
    std::fputs("this is not a DICOM file at all, just some text that goes on for a while", f);
    std::fclose(f);
  }
  expect_error([&] { read_dicom(text); }, {text});
  expect_error([&] { read_dicom(dir.file("absent.dcm")); }, {dir.file("absent.dcm"), "cannot read as DICOM"});
}

TEST_CASE("dicom: a truncated or corrupted real file gives an error or an image, never a crash") {
  TempDir dir;
  const std::string bytes = slurp(kSiimDicom);
  for (size_t cut : {size_t{100}, size_t{1000}, bytes.size() / 2, bytes.size() - 10}) {
    CAPTURE(cut);
    write_file_atomic(dir.file("cut.dcm"), bytes.substr(0, cut));
    expect_error([&] { read_dicom(dir.file("cut.dcm")); }, {dir.file("cut.dcm"), cat("the file (", cut, " bytes)"), "truncated"});
  }
  // Cut at an element boundary: DCMTK loads the elements before the cut without complaint; the message
  // says the image data is missing, not that whichever attribute came after the cut is (it said
  // "missing Rows" before).
  write_file_atomic(dir.file("cut.dcm"), bytes.substr(0, 500));
  expect_error([&] { read_dicom(dir.file("cut.dcm")); }, {"no Pixel Data (7FE0,0010)", "500 bytes", "truncated?"});
  // Flipped bytes after the header: the JPEG decoder either copes or reports the problem.
  Rng rng(17);
  for (int k = 0; k < 10; ++k) {
    std::string copy = bytes;
    for (int j = 0; j < 20; ++j) copy[1000 + rng.below(copy.size() - 1000)] ^= static_cast<char>(1 + rng.below(255));
    write_file_atomic(dir.file("bad.dcm"), copy);
    try {
      GrayImage img = read_dicom(dir.file("bad.dcm"));
      CHECK(img.pixels.size() == 1024u * 1024u);
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find(dir.file("bad.dcm")) != std::string::npos);
    }
  }
}
