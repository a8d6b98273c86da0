// Tests of eval/ensemble.h: DIR[:WEIGHT] parsing, normalised weights, the weighted sum worked by
// hand and its float32 rounding order, one folder of weight 1 giving its maps back bit for bit, and the
// errors when folders differ in ImageIds or sizes.
#include <filesystem>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "eval/ensemble.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

TEST_CASE("ensemble: DIR[:WEIGHT] parsing") {
  CHECK(parse_weighted_folder("maps").dir == "maps");
  CHECK(parse_weighted_folder("maps").weight == 1.0);
  CHECK(parse_weighted_folder("maps:0.3").dir == "maps");
  CHECK(parse_weighted_folder("maps:0.3").weight == 0.3);
  CHECK(parse_weighted_folder("/a/b:c:2").dir == "/a/b:c");  // the last ':' separates the weight
  CHECK(parse_weighted_folder("/a/b:c:2").weight == 2.0);
  CHECK(parse_weighted_folder("run:x").dir == "run:x");  // not a number: part of the name
  CHECK(parse_weighted_folder("odd:3:1").dir == "odd:3");
  expect_error([] { parse_weighted_folder("maps:0"); }, {"'maps:0'", "weight 0, expected a number > 0"});
  expect_error([] { parse_weighted_folder("maps:-1"); }, {"weight -1"});
  expect_error([] { parse_weighted_folder(":2"); }, {"the folder name is empty"});
  CHECK(list_names({"a", "b", "c"}, 2) == "a, b and 1 more");
  CHECK(list_names({"a", "b"}) == "a, b");
}

TEST_CASE("ensemble: weights normalised to sum 1, weighted sum in float32 in folder order") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("a"));
  std::filesystem::create_directories(dir.file("b"));
  write_npy_map(dir.file("a/x.npy"), 2, 2, {0.0f, 0.5f, 1.0f, 0.2f});
  write_npy_map(dir.file("b/x.npy"), 2, 2, {1.0f, 0.5f, 0.0f, 0.6f});
  write_npy_map(dir.file("a/y.npy"), 1, 1, {0.8f});
  write_npy_map(dir.file("b/y.npy"), 1, 1, {0.4f});
  ProbEnsemble e({{dir.file("a"), 1.0}, {dir.file("b"), 3.0}});
  CHECK(e.ids() == std::vector<std::string>{"x", "y"});
  CHECK(e.weights() == std::vector<float>{0.25f, 0.75f});
  // By hand: 0.25 * a + 0.75 * b = {0.75, 0.5, 0.25, 0.05 + 0.45 = 0.5} and {0.2 + 0.3 = 0.5}; float32
  // rounding of the products leaves them within 1e-7.
  std::vector<double> x = e.load(0).to_vector();
  const std::vector<double> expected{0.75, 0.5, 0.25, 0.5};
  for (size_t i = 0; i < 4; ++i) CHECK(std::abs(x[i] - expected[i]) < 1e-7);
  // Exactly the reference's float32 order: acc = a*w0, then acc + b*w1, each rounded to float32.
  const float acc = 0.2f * 0.25f;
  CHECK(static_cast<float>(x[3]) == acc + 0.6f * 0.75f);
  CHECK(std::abs(e.load(1).to_vector()[0] - 0.5) < 1e-7);
  expect_error([&] { e.load(2); }, {"image 2 asked, there are 2"});
}

TEST_CASE("ensemble: one folder of weight 1 returns its maps bit for bit") {
  TempDir dir;
  const Tensor m = smooth_random_map(9, 7, 11);
  write_npy_map(dir.file("m.npy"), 9, 7, std::vector<float>(m.data<float>(), m.data<float>() + 63));
  ProbEnsemble e({{dir.path(), 1.0}});
  CHECK(e.load(0).to_vector() == m.to_vector());
  ProbEnsemble heavy({{dir.path(), 5.0}});  // normalised: the weight becomes 1
  CHECK(heavy.weights() == std::vector<float>{1.0f});
  CHECK(heavy.load(0).to_vector() == m.to_vector());
}

TEST_CASE("ensemble: folders must hold the same ImageIds and sizes") {
  TempDir dir;
  for (const char* sub : {"a", "b", "c"}) std::filesystem::create_directories(dir.file(sub));
  for (const char* id : {"p", "q", "r"}) write_npy_map(dir.file(std::string("a/") + id + ".npy"), 2, 2, {0, 0, 0, 1});
  write_npy_map(dir.file("b/p.npy"), 2, 2, {0, 0, 0, 1});
  write_npy_map(dir.file("b/s.npy"), 2, 2, {0, 0, 0, 1});
  expect_error([&] { ProbEnsemble({{dir.file("a"), 1}, {dir.file("b"), 1}}); },
               {"different ImageIds", dir.file("b") + " lacks 2 of " + dir.file("a") + " (q, r)",
                "and holds 1 not in " + dir.file("a") + " (s)"});
  for (const char* id : {"p", "q"}) write_npy_map(dir.file(std::string("c/") + id + ".npy"), 2, 2, {0, 0, 0, 1});
  write_npy_map(dir.file("c/r.npy"), 2, 3, {0, 0, 0, 1, 0, 0});
  ProbEnsemble e({{dir.file("a"), 1}, {dir.file("c"), 1}});
  CHECK_NOTHROW(e.load(0));
  expect_error([&] { e.load(2); },
               {"ImageId 'r'", "2x2 in " + dir.file("a"), "but 2x3 in " + dir.file("c")});
  expect_error([&] { ProbEnsemble({}); }, {"no probability folder"});
  expect_error([&] { ProbEnsemble({{dir.file("a"), 0.0}}); }, {"weight 0"});
}
