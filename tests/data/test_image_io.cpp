// Tests of data/image_io.h: grey PNG round trips, RGB(A) PNGs converted to grey exactly as
// cv2.imread(path, 0) does, JPEG reading, the dimension cap checked from the header, and errors.
#include <stb_image_write.h>

#include <filesystem>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "data/image_io.h"

using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

TEST_CASE("image io: grey PNG round trip, atomic write leaves no temporary file") {
  TempDir dir;
  const GrayImage img = random_gray(37, 53, 1);
  write_png_gray(dir.file("g.png"), img);
  GrayImage back = read_image_gray(dir.file("g.png"));
  CHECK(back.height == 37);
  CHECK(back.width == 53);
  CHECK(back.pixels == img.pixels);
  int64_t h = 0, w = 0;
  read_image_size(dir.file("g.png"), h, w);
  CHECK(h == 37);
  CHECK(w == 53);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("image io: RGB and RGBA PNGs become grey as cv2.imread(path, 0) makes them") {
  TempDir dir;
  // Expected values from OpenCV 4.10's cv2.imread(path, 0) of the same pixels (libpng's rgb_to_gray):
  // grey = (9797 R + 19234 G + 3737 B) >> 15, e.g. pure green 19234*255 >> 15 = 149 (cv2.cvtColor would
  // give 150), (1,2,3) -> 59476 >> 15 = 1; grey pixels (7,7,7) keep their value.
  const uint8_t rgb[2 * 4 * 3] = {255, 0,   0,   0, 255, 0, 0,   0,   255, 10, 20, 30,
                                  200, 100, 50,  7, 7,   7, 255, 255, 255, 1,  2,  3};
  REQUIRE(stbi_write_png(dir.file("rgb.png").c_str(), 4, 2, 3, rgb, 4 * 3));
  const std::vector<uint8_t> expected{76, 149, 29, 18, 124, 7, 255, 1};
  CHECK(read_image_gray(dir.file("rgb.png")).pixels == expected);
  uint8_t rgba[2 * 4 * 4];
  for (int i = 0; i < 8; ++i) {
    for (int c = 0; c < 3; ++c) rgba[4 * i + c] = rgb[3 * i + c];
    rgba[4 * i + 3] = 128;  // alpha is dropped, not blended
  }
  REQUIRE(stbi_write_png(dir.file("rgba.png").c_str(), 4, 2, 4, rgba, 4 * 4));
  CHECK(read_image_gray(dir.file("rgba.png")).pixels == expected);
  uint8_t grey_alpha[4] = {10, 0, 250, 255};
  REQUIRE(stbi_write_png(dir.file("ga.png").c_str(), 2, 1, 2, grey_alpha, 4));
  CHECK(read_image_gray(dir.file("ga.png")).pixels == std::vector<uint8_t>{10, 250});
}

TEST_CASE("image io: JPEG reads as its luma plane, close to the source") {
  TempDir dir;
  GrayImage ramp(32, 40);
  for (int64_t y = 0; y < 32; ++y) {
    for (int64_t x = 0; x < 40; ++x) ramp.at(y, x) = static_cast<uint8_t>(30 + 3 * y + 2 * x);
  }
  REQUIRE(stbi_write_jpg(dir.file("r.jpg").c_str(), 40, 32, 1, ramp.pixels.data(), 95));
  GrayImage back = read_image_gray(dir.file("r.jpg"));
  REQUIRE(back.pixels.size() == ramp.pixels.size());
  int max_diff = 0;
  for (size_t i = 0; i < ramp.pixels.size(); ++i) max_diff = std::max(max_diff, std::abs(back.pixels[i] - ramp.pixels[i]));
  CHECK(max_diff <= 3);  // lossy quantisation of a smooth ramp at quality 95
}

TEST_CASE("image io: the dimension cap is checked from the header, before decoding") {
  TempDir dir;
  // A PNG header claiming 20000 x 2 pixels followed by no image data: stbi_info reads the size from
  // IHDR, and the reader must refuse it without trying to decode.
  GrayImage small(2, 3, 9);
  write_png_gray(dir.file("s.png"), small);
  std::string bytes = slurp(dir.file("s.png"));
  // IHDR data starts at byte 16: width (4 bytes, big endian) then height.
  bytes[16] = 0, bytes[17] = 0, bytes[18] = 0x4E, bytes[19] = 0x20;  // width 20000
  write_file_atomic(dir.file("big.png"), bytes);
  expect_error([&] { read_image_gray(dir.file("big.png")); },
               {dir.file("big.png"), "image is 20000x2 (width x height)", "1..16384"});
  write_file_atomic(dir.file("junk.png"), "not an image");
  expect_error([&] { read_image_gray(dir.file("junk.png")); }, {dir.file("junk.png"), "not a readable PNG or JPEG"});
  expect_error([&] { read_image_gray(dir.file("absent.png")); }, {dir.file("absent.png")});
  expect_error([&] { write_png_gray(dir.file("e.png"), GrayImage()); }, {"[write_png_gray]", "0x0"});
  CHECK(is_png_or_jpeg_path("a/b.PNG"));
  CHECK(is_png_or_jpeg_path("x.jpeg"));
  CHECK(!is_png_or_jpeg_path("x.dcm"));
  CHECK(!is_png_or_jpeg_path("dir.png/file"));
}

TEST_CASE("image io: JPEG Huffman tables that are no prefix code or hold over 256 codes are refused before stb") {
  // Debian's stb_image 2.27 writes past its table for the first kind of file and reads past it for the
  // second (undefined behaviour that UBSan caught in tests/fuzz; regression inputs in
  // tests/fuzz/regressions/image/). The same image with sound tables reads.
  TempDir dir;
  GrayImage ramp(8, 8);
  for (int64_t i = 0; i < 64; ++i) ramp.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(i * 3);
  REQUIRE(stbi_write_jpg(dir.file("ok.jpg").c_str(), 8, 8, 1, ramp.pixels.data(), 90));
  CHECK(read_image_gray(dir.file("ok.jpg")).pixels.size() == 64u);
  std::string bytes = slurp(dir.file("ok.jpg"));
  const size_t dht = bytes.find("\xFF\xC4");
  REQUIRE(dht != std::string::npos);
  const size_t counts = dht + 5;  // marker (2), length (2), class and id (1), then 16 counts
  std::string too_many = bytes;   // 128 codes of length 15 and 255 of length 16: a prefix code, 383 symbols
  for (int i = 0; i < 16; ++i) too_many[counts + i] = 0;
  too_many[counts + 14] = static_cast<char>(0x80);
  too_many[counts + 15] = static_cast<char>(0xFF);
  std::string no_prefix = bytes;  // three codes of length 1
  no_prefix[counts] = 3;
  write_file_atomic(dir.file("many.jpg"), too_many);
  write_file_atomic(dir.file("prefix.jpg"), no_prefix);
  for (auto read : {+[](const std::string& p) { read_image_gray(p); },
                    +[](const std::string& p) { int64_t h = 0, w = 0; read_image_size(p, h, w); }}) {
    expect_error([&] { read(dir.file("many.jpg")); }, {dir.file("many.jpg"), cat("JPEG Huffman table at byte ", dht + 4),
                                                      "declares 383 codes, at most 256 are possible"});
    expect_error([&] { read(dir.file("prefix.jpg")); },
                 {dir.file("prefix.jpg"), "more codes of length 1 than that length allows"});
  }
  // stb also reads a JPEG that starts with fill bytes, and skips stray bytes between segments: so does
  // the check (a fuzzed file once slipped past it that way).
  const std::string padded = std::string(40, '\xFF') + too_many;
  write_file_atomic(dir.file("padded.jpg"), padded);
  expect_error([&] { read_image_gray(dir.file("padded.jpg")); }, {"declares 383 codes"});
  std::string stray = too_many;
  stray.insert(dht, "junk");
  write_file_atomic(dir.file("stray.jpg"), stray);
  expect_error([&] { read_image_gray(dir.file("stray.jpg")); }, {"declares 383 codes"});
  // A segment that claims more bytes than the file has.
  std::string cut = slurp(dir.file("ok.jpg")).substr(0, dht + 10);
  write_file_atomic(dir.file("cut.jpg"), cut);
  expect_error([&] { read_image_gray(dir.file("cut.jpg")); }, {"JPEG segment FFC4", "claims"});
}

TEST_CASE("image io: empty IDAT chunks are dropped before stb_image reads a PNG, and the image is unchanged") {
  // stb_image 2.27 passes a null pointer to memcpy for an empty first IDAT (UBSan, tests/fuzz); the reader
  // removes empty IDATs first. Here one goes before the first IDAT and one after it.
  TempDir dir;
  GrayImage image(5, 7);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7 + 1);
  write_png_gray(dir.file("a.png"), image);
  std::string bytes = slurp(dir.file("a.png"));
  const size_t idat = bytes.find("IDAT") - 4;
  const std::string empty_idat("\0\0\0\0IDAT\x35\xAF\x06\x1E", 12);
  const uint32_t first_length = (static_cast<uint8_t>(bytes[idat + 2]) << 8) | static_cast<uint8_t>(bytes[idat + 3]);
  bytes.insert(idat + 12 + first_length, empty_idat);
  bytes.insert(idat, empty_idat);
  write_file_atomic(dir.file("b.png"), bytes);
  const GrayImage back = read_image_gray(dir.file("b.png"));
  CHECK(back.pixels == image.pixels);
  int64_t h = 0, w = 0;
  read_image_size(dir.file("b.png"), h, w);
  CHECK((h == 5 && w == 7));
}

TEST_CASE("image io: a JPEG scan that uses a Huffman table the file never defines is refused before stb") {
  // stb_image 2.27 would decode with uninitialised memory (tests/fuzz). Baseline scans use DC and AC
  // tables: redefining the first DHT's table as another id leaves the scan's table undefined.
  TempDir dir;
  GrayImage ramp(8, 8);
  for (int64_t i = 0; i < 64; ++i) ramp.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(200 - i);
  REQUIRE(stbi_write_jpg(dir.file("ok.jpg").c_str(), 8, 8, 1, ramp.pixels.data(), 90));
  std::string bytes = slurp(dir.file("ok.jpg"));
  const size_t dht = bytes.find("\xFF\xC4");
  REQUIRE(dht != std::string::npos);
  REQUIRE(bytes[dht + 4] == 0x00);  // class 0 (DC), id 0
  bytes[dht + 4] = 0x02;            // now DC table 2
  write_file_atomic(dir.file("undefined.jpg"), bytes);
  expect_error([&] { read_image_gray(dir.file("undefined.jpg")); },
               {dir.file("undefined.jpg"), "uses DC Huffman table 0, which the file never defines"});
}
