// Tests of eval/submission.h: the triplet rule on a map worked by hand (float32 comparisons
// included), the reference's upscaling worked by hand and on a 256 map against resize.h + threshold,
// min-component removal before the upscaling, and the sample-submission reader.
#include <algorithm>
#include <cmath>
#include <fstream>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "data/resize.h"
#include "eval/submission.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

TEST_CASE("submission: the triplet rule on a 4x4 map, worked by hand") {
  // Three pixels above top = 0.5 (0.9, 0.8, 0.6); five above bottom = 0.25 (those and 0.3, 0.26).
  const Tensor map = map_tensor(4, 4, {0.9f, 0.8f, 0.1f, 0.0f,   //
                                       0.6f, 0.3f, 0.2f, 0.0f,   //
                                       0.26f, 0.25f, 0.0f, 0.0f, //
                                       0.0f, 0.0f, 0.0f, 0.5f});
  const std::vector<uint8_t> expected{255, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255};
  CHECK(triplet_mask(map, {0.5, 3, 0.25}).pixels == expected);  // 3 >= 3: kept (0.25 is not > 0.25)
  CHECK(triplet_mask(map, {0.5, 4, 0.25}).pixels == std::vector<uint8_t>(16, 0));  // 3 < 4: empty
  CHECK(triplet_mask(map, {0.5, 0, 0.95}).pixels == std::vector<uint8_t>(16, 0));  // kept, but nothing > 0.95
  // Thresholds compare as float32: p = float(0.4) is not above a bottom of 0.4 (as double it would be,
  // since float(0.4) > 0.4), and the next float up is.
  const float f04 = static_cast<float>(0.4);
  REQUIRE(static_cast<double>(f04) > 0.4);
  const Tensor edge = map_tensor(1, 2, {f04, std::nextafter(f04, 1.0f)});
  CHECK(triplet_mask(edge, {0.0, 0, 0.4}).pixels == std::vector<uint8_t>{0, 255});
}

TEST_CASE("submission: upscaling a 2x2 mask to 4x4 the reference's way, worked by hand") {
  // cv2 INTER_LINEAR 2 -> 4: source x = (dx + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, i.e. weights of the
  // first pixel 1, 0.75, 0.25, 0 (the ends replicate). Mask [255 0; 0 255]: the value at (y, x) is
  // 255 (a_y a_x + b_y b_x) with a = (1, .75, .25, 0), b = 1 - a. Row 1: 255*(.75, .5625+.0625, .1875+.1875,
  // .25) = 191, 159, 96, 64 -> > 127 keeps the first two. The result: two 2x2 blocks on the diagonal.
  GrayImage mask(2, 2, 0);
  mask.pixels = {255, 0, 0, 255};
  const GrayImage up = upscale_mask(mask, 4, 4);
  const std::vector<uint8_t> expected{255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0, 255, 255};
  CHECK(up.pixels == expected);
  // The bilinear values themselves, before the threshold (cv2.resize of this mask in OpenCV 4.10 prints
  // the same row: 191 159 96 64).
  const GrayImage values = data::resize_bilinear(mask, 4, 4);
  CHECK(values.pixels[4 + 0] == 191);
  CHECK(values.pixels[4 + 1] == 159);
  CHECK(values.pixels[4 + 2] == 96);
  CHECK(values.pixels[4 + 3] == 64);
  // Already of the output size: only the threshold (0/255 masks pass unchanged).
  CHECK(upscale_mask(mask, 2, 2).pixels == mask.pixels);
}

TEST_CASE("submission: a 256 map becomes a 1024 mask as resize.h + threshold make it") {
  const Tensor map = smooth_random_map(256, 256, 5);
  SubmitOptions o;
  o.triplet = {0.6, 10, 0.35};
  const GrayImage got = submission_mask(map, o);
  REQUIRE(got.height == 1024);
  REQUIRE(got.width == 1024);
  // Independently: the rule written out here, then cv2-style bilinear (resize.h) and > 127.
  const float* p = map.data<float>();
  int64_t above_top = 0;
  GrayImage small(256, 256, 0);
  for (int64_t i = 0; i < 256 * 256; ++i) {
    above_top += p[i] > 0.6f;
    small.pixels[i] = p[i] > 0.35f ? 255 : 0;
  }
  REQUIRE(above_top >= 10);
  GrayImage expected = data::resize_bilinear(small, 1024, 1024);
  int64_t on = 0;
  for (uint8_t& v : expected.pixels) on += (v = v > 127 ? 255 : 0) != 0;
  REQUIRE(on > 1000);  // not a trivial mask
  CHECK(got.pixels == expected.pixels);
  // Non-square output sizes work the same way.
  o.out_height = 300;
  o.out_width = 500;
  GrayImage other = data::resize_bilinear(small, 300, 500);
  for (uint8_t& v : other.pixels) v = v > 127 ? 255 : 0;
  CHECK(submission_mask(map, o).pixels == other.pixels);
}

TEST_CASE("submission: small components are removed at the map's size, before the upscaling") {
  // Two blobs above bottom = 0.5: a 3x3 square (9 pixels) and a 2x1 bar (2 pixels).
  std::vector<float> v(8 * 8, 0.0f);
  for (int y = 1; y <= 3; ++y)
    for (int x = 1; x <= 3; ++x) v[y * 8 + x] = 0.9f;
  v[6 * 8 + 5] = v[6 * 8 + 6] = 0.7f;
  const Tensor map = map_tensor(8, 8, v);
  SubmitOptions o;
  o.triplet = {0.8, 1, 0.5};
  o.out_height = o.out_width = 8;
  int64_t removed = -1;
  GrayImage all = submission_mask(map, o, &removed);
  CHECK(removed == 0);
  CHECK(std::count(all.pixels.begin(), all.pixels.end(), 255) == 11);
  o.min_component = 3;
  GrayImage big = submission_mask(map, o, &removed);
  CHECK(removed == 1);
  CHECK(std::count(big.pixels.begin(), big.pixels.end(), 255) == 9);
  CHECK(big.at(6, 5) == 0);
  o.min_component = 10;
  const GrayImage none = submission_mask(map, o, &removed);
  CHECK(removed == 2);
  CHECK(std::count(none.pixels.begin(), none.pixels.end(), 0) == 64);
  o.out_height = o.out_width = 16;  // removal happens at 8x8 (a 2-pixel bar would survive as 8 at 16x16)
  o.min_component = 3;
  GrayImage up = submission_mask(map, o);
  CHECK(up.pixels == upscale_mask(big, 16, 16).pixels);
}

TEST_CASE("submission: sample submission ids in order, each once; errors name file:line") {
  const std::vector<std::string> stage2 =
      read_sample_ids(std::string(PLEURA_FIXTURES_DIR) + "/siim/stage_2_sample_submission.csv").ids;
  REQUIRE(stage2.size() > 100);
  CHECK(stage2[0] == "ID_0011fe81e");
  CHECK(stage2[1] == "ID_9ca06e9b9");
  TempDir dir;
  std::ofstream(dir.file("s.csv")) << "ImageId,EncodedPixels\nb,-1\na,-1\nb,1 2\nc\n";
  const SampleIds s = read_sample_ids(dir.file("s.csv"));
  CHECK(s.ids == std::vector<std::string>{"b", "a", "c"});
  CHECK(s.repeated_rows == 1);
  CHECK(s.first_repeat == dir.file("s.csv") + ":4 ('b')");
  std::ofstream(dir.file("f.csv")) << "fname,mask\nx,-1\n";
  CHECK(read_sample_ids(dir.file("f.csv")).ids == std::vector<std::string>{"x"});
  CHECK(read_sample_ids(dir.file("f.csv")).repeated_rows == 0);
  std::ofstream(dir.file("bad.csv")) << "Id,EncodedPixels\nb,-1\n";
  expect_error([&] { read_sample_ids(dir.file("bad.csv")); }, {dir.file("bad.csv") + ":1", "starting with ImageId"});
  std::ofstream(dir.file("empty_id.csv")) << "ImageId,EncodedPixels\nb,-1\n ,-1\n";
  expect_error([&] { read_sample_ids(dir.file("empty_id.csv")); }, {dir.file("empty_id.csv") + ":3", "empty ImageId"});
  std::ofstream(dir.file("path_id.csv")) << "ImageId,EncodedPixels\nb,-1\n/etc/passwd,-1\n";
  expect_error([&] { read_sample_ids(dir.file("path_id.csv")); }, {dir.file("path_id.csv") + ":3", "holds '/'"});
  std::ofstream(dir.file("header_only.csv")) << "ImageId,EncodedPixels\n";
  expect_error([&] { read_sample_ids(dir.file("header_only.csv")); }, {"lists no ImageId"});
}
