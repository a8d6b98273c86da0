// Tests of infer/prob_map.h, the probability-map format's one owner: the png quantisation worked by hand,
// both encodings written and read back (npy exactly, png as v/255 in float32), NaN refused at writing with
// nothing written, folders listed by ImageId (both forms of one id, empty folder), the accepted .npy
// shapes, bad files named with their path and what is wrong, existing maps for resuming and the removal of
// stale temporaries.
#include "infer/prob_map.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/npy.h"
#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "tests/infer/infer_testing.h"
#include "data/image_io.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

TEST_CASE("prob_map: png quantisation v = floor(p * 255 + 0.5) on the float32 value") {
  // By hand (float32 values from numpy 1.26): 0.25 * 255 = 63.75 -> 64; 0.75 -> 191.25 -> 191;
  // 0.5 -> 127.5 -> 128 (half up); float32(0.1) = 0.10000000149 -> 25.5000004 -> 26;
  // float32(0.9) = 0.89999997616 -> 229.4999939 -> 229; float32(0.5/255) -> 0.50000003 -> 1.
  CHECK(quantize_probability(0.0f) == 0);
  CHECK(quantize_probability(1.0f) == 255);
  CHECK(quantize_probability(0.25f) == 64);
  CHECK(quantize_probability(0.75f) == 191);
  CHECK(quantize_probability(0.5f) == 128);
  CHECK(quantize_probability(0.1f) == 26);
  CHECK(quantize_probability(0.9f) == 229);
  CHECK(quantize_probability(static_cast<float>(0.5 / 255)) == 1);
  // Every level maps back to itself: v/255 in float32, quantised, gives v.
  for (int v = 0; v <= 255; ++v) CHECK(quantize_probability(static_cast<float>(v) / 255.0f) == v);
  expect_error([] { quantize_probability(1.5f); }, {"[quantize_probability]", "1.5"});
  expect_error([] { quantize_probability(std::nanf("")); }, {"[quantize_probability]"});
}

TEST_CASE("prob_map: maps written as npy and png read back through rle_submit's reader") {
  TempDir dir;
  const std::vector<float> p = {0.0f, 0.1f, 0.25f, 0.5f, 0.75f, 0.9f, 1.0f, 0.333f, 0.0123f};
  write_map(dir.path(), "id_1", p.data(), 3, 3, MapFormat::kNpy);
  write_map(dir.path(), "id_2", p.data(), 3, 3, MapFormat::kPng);
  CHECK(map_path(dir.path(), "id_1", MapFormat::kNpy) == dir.file("id_1.npy"));
  CHECK(map_path(dir.path(), "id_2", MapFormat::kPng) == dir.file("id_2.png"));
  const Tensor npy = read_prob_map(dir.file("id_1.npy"));
  REQUIRE(npy.shape() == Shape({3, 3}));
  for (size_t k = 0; k < p.size(); ++k) CHECK(npy.data<float>()[k] == p[k]);  // float32 stored as is
  const GrayImage png = data::read_image_gray(dir.file("id_2.png"));
  REQUIRE(png.height == 3);
  REQUIRE(png.width == 3);
  const std::vector<uint8_t> levels = {0, 26, 64, 128, 191, 229, 255, 85, 3};  // 0.333*255 = 84.9, 0.0123*255 = 3.1
  CHECK(png.pixels == levels);
  const Tensor back = read_prob_map(dir.file("id_2.png"));
  for (size_t k = 0; k < p.size(); ++k) {
    CHECK(back.data<float>()[k] == static_cast<float>(levels[k]) / 255.0f);
    CHECK(std::abs(back.data<float>()[k] - p[k]) <= 0.5f / 255.0f + 1e-7f);  // half a level, plus float32 rounding
  }
  CHECK(existing_map_ids(dir.path()) == std::vector<std::string>{"id_1", "id_2"});
  CHECK(temporaries_in(dir.path()).empty());
  CHECK(parse_map_format("npy") == MapFormat::kNpy);
  CHECK(parse_map_format("png") == MapFormat::kPng);
  expect_error([] { parse_map_format("tiff"); }, {"unknown map format 'tiff'", "npy or png"});
}

TEST_CASE("prob_map: a random 17x23 map round-trips through both encodings") {
  TempDir dir;
  const Tensor map = smooth_random_map(17, 23, 42);  // seeded; values in [0, 1]
  const float* p = map.data<float>();
  write_map(dir.path(), "r", p, 17, 23, MapFormat::kNpy);
  write_map(dir.path(), "r", p, 17, 23, MapFormat::kPng);
  const Tensor npy = read_prob_map(map_path(dir.path(), "r", MapFormat::kNpy));
  const Tensor png = read_prob_map(map_path(dir.path(), "r", MapFormat::kPng));
  REQUIRE(npy.shape() == Shape({17, 23}));
  REQUIRE(png.shape() == Shape({17, 23}));
  int64_t exact = 0, quantised = 0, levels_used = 0;
  std::vector<bool> seen(256, false);
  for (int64_t k = 0; k < 17 * 23; ++k) {
    exact += npy.data<float>()[k] == p[k];
    const uint8_t v = quantize_probability(p[k]);
    quantised += png.data<float>()[k] == static_cast<float>(v) / 255.0f;
    if (!seen[v]) ++levels_used, seen[v] = true;
  }
  CHECK(exact == 17 * 23);
  CHECK(quantised == 17 * 23);
  CHECK(levels_used > 20);  // the map spans many levels, so the png check is not a check on a constant
  // Both files of one id make the folder ambiguous for the readers.
  expect_error([&] { list_prob_maps(dir.path()); }, {"two files for the ImageId 'r'"});
  CHECK(existing_map_ids(dir.path()) == std::vector<std::string>{"r"});
}

TEST_CASE("prob_map: a NaN map is refused, naming the image and the pixel, and nothing is written") {
  TempDir dir;
  std::vector<float> p(6, 0.5f);
  p[4] = std::nanf("");
  for (MapFormat f : {MapFormat::kNpy, MapFormat::kPng}) {
    expect_error([&] { write_map(dir.path(), "bad", p.data(), 2, 3, f); }, {"image bad", "(y 1, x 1)", "not in [0, 1]"});
  }
  p[4] = 1.0001f;
  expect_error([&] { write_map(dir.path(), "bad", p.data(), 2, 3, MapFormat::kNpy); }, {"image bad", "(y 1, x 1)"});
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("prob_map: existing maps are listed and stale temporaries removed") {
  TempDir dir;
  CHECK(existing_map_ids(dir.file("absent")).empty());
  for (const char* name : {"b.npy", "a.png", "notes.txt", "c.npy.tmp.99999123", "d.png.tmp.99999009",
                           "infer_settings.txt.tmp.99999005"})  // pids above Linux's pid_max: dead
    std::ofstream(dir.file(name)) << "x";
  fs::create_directories(dir.file("sub.npy"));  // a folder is not a map
  CHECK(existing_map_ids(dir.path()) == std::vector<std::string>{"a", "b"});
  CHECK(remove_stale_temporaries(dir.path()) == 3);
  CHECK(temporaries_in(dir.path()).empty());
  CHECK(fs::exists(dir.file("notes.txt")));
  CHECK(fs::exists(dir.file("b.npy")));
}

TEST_CASE("prob_map: a folder lists its .png and .npy maps by ImageId; other files are ignored") {
  TempDir dir;
  data::write_png_gray(dir.file("b.png"), GrayImage(2, 3, 7));
  write_npy_map(dir.file("a.npy"), 1, 2, {0.5f, 0.25f});
  std::ofstream(dir.file("notes.txt")) << "not a map";
  fs::create_directories(dir.file("sub.png"));  // a folder, not a map
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
  expect_error([&] { list_prob_maps(empty.file("nowhere")); },
               {"probability maps: folder '" + empty.file("nowhere") + "' does not exist"});
  fs::create_symlink(empty.file("gone.npy"), empty.file("c.npy"));  // a dangling link is named, not skipped
  expect_error([&] { list_prob_maps(empty.path()); },
               {empty.file("c.npy") + " is a symbolic link to '" + empty.file("gone.npy") + "', which does not exist"});
}

TEST_CASE("prob_map: PNG maps are v/255 in float32, NPY maps as stored") {
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

TEST_CASE("prob_map: NPY errors name the file and what is wrong") {
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
  std::ofstream(dir.file("text.png")) << "not a png";
  expect_error([&] { read_prob_map(dir.file("text.png")); }, {dir.file("text.png")});
  expect_error([&] { read_prob_map(dir.file("map.jpg")); }, {"must be a .png or a .npy file"});
}
