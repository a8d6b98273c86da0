// Tests of infer/map_writer.h: the png quantisation worked by hand, both formats read back by the
// reader rle_submit and search_triplets use (eval/prob_maps.h), NaN refused with nothing written,
// the listing of existing maps and the removal of stale temporaries.
#include "infer/map_writer.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/infer/infer_testing.h"
#include "data/image_io.h"
#include "eval/prob_maps.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

TEST_CASE("infer: png quantisation v = floor(p * 255 + 0.5) on the float32 value") {
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

TEST_CASE("infer: maps written as npy and png read back through rle_submit's reader") {
  TempDir dir;
  const std::vector<float> p = {0.0f, 0.1f, 0.25f, 0.5f, 0.75f, 0.9f, 1.0f, 0.333f, 0.0123f};
  write_map(dir.path(), "id_1", p.data(), 3, 3, MapFormat::kNpy);
  write_map(dir.path(), "id_2", p.data(), 3, 3, MapFormat::kPng);
  CHECK(map_path(dir.path(), "id_1", MapFormat::kNpy) == dir.file("id_1.npy"));
  CHECK(map_path(dir.path(), "id_2", MapFormat::kPng) == dir.file("id_2.png"));
  const Tensor npy = eval::read_prob_map(dir.file("id_1.npy"));
  REQUIRE(npy.shape() == Shape({3, 3}));
  for (size_t k = 0; k < p.size(); ++k) CHECK(npy.data<float>()[k] == p[k]);  // float32 stored as is
  const GrayImage png = data::read_image_gray(dir.file("id_2.png"));
  REQUIRE(png.height == 3);
  REQUIRE(png.width == 3);
  const std::vector<uint8_t> levels = {0, 26, 64, 128, 191, 229, 255, 85, 3};  // 0.333*255 = 84.9, 0.0123*255 = 3.1
  CHECK(png.pixels == levels);
  const Tensor back = eval::read_prob_map(dir.file("id_2.png"));
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

TEST_CASE("infer: a NaN map is refused, naming the image and the pixel, and nothing is written") {
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

TEST_CASE("infer: existing maps are listed and stale temporaries removed") {
  TempDir dir;
  CHECK(existing_map_ids(dir.file("absent")).empty());
  for (const char* name : {"b.npy", "a.png", "notes.txt", "c.npy.tmp.123", "d.png.tmp.9", "infer_settings.txt.tmp.5"})
    std::ofstream(dir.file(name)) << "x";
  fs::create_directories(dir.file("sub.npy"));  // a folder is not a map
  CHECK(existing_map_ids(dir.path()) == std::vector<std::string>{"a", "b"});
  CHECK(remove_stale_temporaries(dir.path()) == 3);
  CHECK(temporaries_in(dir.path()).empty());
  CHECK(fs::exists(dir.file("notes.txt")));
  CHECK(fs::exists(dir.file("b.npy")));
}
