// Tests of eval/prob_maps.h: listing a folder of .png / .npy maps, p = v/255 in float32, the
// accepted .npy shapes, and the errors (both forms of one id, empty folder, bad dtype/shape/values).
#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/npy.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "data/image_io.h"
#include "eval/prob_maps.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

TEST_CASE("prob_maps: a folder lists its .png and .npy maps by ImageId; other files are ignored") {
  TempDir dir;
  data::write_png_gray(dir.file("b.png"), GrayImage(2, 3, 7));
  write_npy_map(dir.file("a.npy"), 1, 2, {0.5f, 0.25f});
  std::ofstream(dir.file("notes.txt")) << "not a map";
  std::filesystem::create_directories(dir.file("sub.png"));  // a folder, not a map
  const std::vector<MapFile> maps = list_prob_maps(dir.path());
  REQUIRE(maps.size() == 2);
  CHECK(maps[0].image_id == "a");
  CHECK(maps[0].path == dir.file("a.npy"));
  CHECK(maps[1].image_id == "b");
  CHECK(maps[1].path == dir.file("b.png"));

  write_npy_map(dir.file("b.npy"), 1, 1, {0.5f});
  expect_error([&] { list_prob_maps(dir.path()); },
               {"two files for the ImageId 'b'", dir.file("b.npy"), dir.file("b.png")});
  TempDir empty;
  expect_error([&] { list_prob_maps(empty.path()); }, {"no <ImageId>.png or <ImageId>.npy file in", empty.path()});
  expect_error([&] { list_prob_maps(empty.file("nowhere")); }, {"is not a folder"});
}

TEST_CASE("prob_maps: PNG maps are v/255 in float32, NPY maps as stored") {
  TempDir dir;
  GrayImage image(2, 2, 0);
  image.pixels = {0, 102, 191, 255};
  data::write_png_gray(dir.file("m.png"), image);
  const Tensor p = read_prob_map(dir.file("m.png"));
  REQUIRE(p.shape() == Shape({2, 2}));
  const float* v = p.data<float>();
  CHECK(v[0] == 0.0f);
  // 102/255 rounds to the float32 nearest 0.4 (numpy agrees: float32(102)/255 == float32(0.4)), so a
  // bottom threshold of 0.4 leaves this pixel off, as in the reference.
  CHECK(v[1] == static_cast<float>(0.4));
  CHECK(v[2] == 191.0f / 255.0f);
  CHECK(v[3] == 1.0f);

  write_npy_map(dir.file("n.npy"), 2, 3, {0.f, 0.1f, 0.2f, 0.3f, 0.4f, 1.f});
  const Tensor n = read_prob_map(dir.file("n.npy"));
  REQUIRE(n.shape() == Shape({2, 3}));
  CHECK(n.data<float>()[1] == 0.1f);
  // Leading dimensions of size 1 are accepted.
  write_npy(dir.file("four.npy"), map_tensor(2, 3, {0.f, 0.1f, 0.2f, 0.3f, 0.4f, 1.f}).view({1, 1, 2, 3}));
  CHECK(read_prob_map(dir.file("four.npy")).to_vector() == n.to_vector());
}

TEST_CASE("prob_maps: NPY errors name the file and what is wrong") {
  TempDir dir;
  write_npy(dir.file("f64.npy"), Tensor::full({2, 2}, 0.5, DType::kFloat64));
  expect_error([&] { read_prob_map(dir.file("f64.npy")); }, {dir.file("f64.npy"), "dtype float64, expected float32"});
  write_npy(dir.file("batch.npy"), Tensor::full({2, 2, 2}, 0.5));
  expect_error([&] { read_prob_map(dir.file("batch.npy")); }, {dir.file("batch.npy"), "shape [2, 2, 2]", "[H, W]"});
  write_npy(dir.file("flat.npy"), Tensor::full({4}, 0.5));
  expect_error([&] { read_prob_map(dir.file("flat.npy")); }, {"shape [4]"});
  write_npy_map(dir.file("logit.npy"), 2, 2, {0.f, 0.5f, 0.5f, 1.5f});
  expect_error([&] { read_prob_map(dir.file("logit.npy")); },
               {dir.file("logit.npy"), "pixel (y 1, x 1) holds 1.5", "expected a probability in [0, 1]"});
  write_npy_map(dir.file("nan.npy"), 1, 2, {std::nanf(""), 0.5f});
  expect_error([&] { read_prob_map(dir.file("nan.npy")); }, {"pixel (y 0, x 0) holds nan"});
  write_npy_map(dir.file("neg.npy"), 1, 2, {0.5f, -0.001f});
  expect_error([&] { read_prob_map(dir.file("neg.npy")); }, {"pixel (y 0, x 1) holds -0.001"});
  std::ofstream(dir.file("cut.npy")) << "\x93NUMPY";
  expect_error([&] { read_prob_map(dir.file("cut.npy")); }, {dir.file("cut.npy")});
  expect_error([&] { read_prob_map(dir.file("missing.png")); }, {dir.file("missing.png")});
  expect_error([&] { read_prob_map(dir.file("map.jpg")); }, {"must be a .png or a .npy file"});
}
