// Tests of data/image_io.h: grey and RGB PNG round trips, RGB(A) PNGs converted to grey exactly as
// cv2.imread(path, 0) does, JPEG reading, the dimension cap checked from the header, and errors.
#include <stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <utility>

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

TEST_CASE("image io: malformed JPEG Huffman tables and scans are refused by libjpeg, naming the file") {
  // The inputs on which Debian's stb_image 2.27 read or wrote out of bounds (tests/fuzz; the fuzzed files
  // are in tests/fuzz/regressions/image/): a table of more than 256 codes, code lengths that are no
  // prefix code, a scan using a table the file never defines. JPEG now goes through libjpeg-turbo, which
  // refuses each; the same image with sound tables reads.
  TempDir dir;
  GrayImage ramp(8, 8);
  for (int64_t i = 0; i < 64; ++i) ramp.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(i * 3);
  REQUIRE(stbi_write_jpg(dir.file("ok.jpg").c_str(), 8, 8, 1, ramp.pixels.data(), 90));
  CHECK(read_image_gray(dir.file("ok.jpg")).pixels.size() == 64u);
  const std::string bytes = slurp(dir.file("ok.jpg"));
  const size_t dht = bytes.find("\xFF\xC4");
  REQUIRE(dht != std::string::npos);
  const size_t counts = dht + 5;  // marker (2), length (2), class and id (1), then 16 counts
  std::string too_many = bytes;   // 128 codes of length 15 and 255 of length 16: a prefix code, 383 symbols
  for (int i = 0; i < 16; ++i) too_many[counts + i] = 0;
  too_many[counts + 14] = static_cast<char>(0x80);
  too_many[counts + 15] = static_cast<char>(0xFF);
  std::string no_prefix = bytes;  // three codes of length 1
  no_prefix[counts] = 3;
  for (const auto& [name, file] : {std::pair{"many.jpg", too_many}, std::pair{"prefix.jpg", no_prefix}}) {
    write_file_atomic(dir.file(name), file);
    expect_error([&] { read_image_gray(dir.file(name)); }, {dir.file(name), "libjpeg: Bogus Huffman table definition"});
  }
  // A scan whose DC table 0 the file never defines (the first table made DC table 2): libjpeg-turbo, like
  // OpenCV through it, decodes with the standard tables of the JPEG specification instead.
  std::string undefined = bytes;
  REQUIRE(undefined[dht + 4] == 0x00);
  undefined[dht + 4] = 0x02;
  write_file_atomic(dir.file("undefined.jpg"), undefined);
  CHECK(read_image_gray(dir.file("undefined.jpg")).pixels.size() == 64u);
  // Fill bytes before the SOI marker: stb read on, libjpeg (and so OpenCV) refuses the file.
  write_file_atomic(dir.file("padded.jpg"), std::string(40, '\xFF') + bytes);
  expect_error([&] { read_image_gray(dir.file("padded.jpg")); }, {dir.file("padded.jpg"), "not a readable"});
  // Cut short: libjpeg fills the rest (a warning, as in OpenCV), the image keeps its size.
  write_file_atomic(dir.file("cut.jpg"), bytes.substr(0, bytes.size() - 3));
  CHECK(read_image_gray(dir.file("cut.jpg")).pixels.size() == 64u);
  int64_t h = 0, w = 0;
  read_image_size(dir.file("ok.jpg"), h, w);
  CHECK((h == 8 && w == 8));
  expect_error([&] { read_image_size(dir.file("padded.jpg"), h, w); }, {"padded.jpg", "not a readable"});
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

TEST_CASE("image io: RGB PNG round trip; grey PNGs read as RGB give R = G = B") {
  TempDir dir;
  RgbImage img(5, 7);
  const GrayImage noise = random_gray(5, 7 * 3, 4);  // seed 4
  img.pixels = noise.pixels;
  write_png_rgb(dir.file("c.png"), img);
  const RgbImage back = read_png_rgb(dir.file("c.png"));
  CHECK(back.height == 5);
  CHECK(back.width == 7);
  CHECK(back.pixels == img.pixels);
  CHECK(back.at(2, 3) == Rgb{img.pixels[3 * 17], img.pixels[3 * 17 + 1], img.pixels[3 * 17 + 2]});
  const GrayImage grey = random_gray(3, 4, 5);
  write_png_gray(dir.file("g.png"), grey);
  const RgbImage wide = read_png_rgb(dir.file("g.png"));
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 4; ++x) CHECK(wide.at(y, x) == Rgb{grey.at(y, x), grey.at(y, x), grey.at(y, x)});
  RgbImage bad(2, 2);
  bad.pixels.pop_back();
  expect_error([&] { write_png_rgb(dir.file("bad.png"), bad); }, {"write_png_rgb", "holds 11 bytes, expected 12"});
  std::ofstream(dir.file("junk.png")) << "not a png";
  expect_error([&] { read_png_rgb(dir.file("junk.png")); }, {dir.file("junk.png"), "not a readable PNG"});
}
