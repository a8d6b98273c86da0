// Tests of data/folds.h: the solution's 5-fold file, strict reading, the seeded stratified split
// (deterministic, balanced), and the checks against labels and the image folder.
#include <filesystem>
#include <map>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "data/folds.h"
#include "data/rle_csv.h"

using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

TEST_CASE("folds: the solution's train_folds_5.csv") {
  Folds folds = read_folds(std::string(PLEURA_FIXTURES_DIR) + "/siim/train_folds_5.csv");
  CHECK(folds.entries.size() == 10679);
  CHECK(folds.num_folds == 5);
  int64_t positives = 0;
  std::vector<int64_t> per_fold(5, 0);
  for (const FoldEntry& e : folds.entries) {
    positives += e.positive;
    ++per_fold[static_cast<size_t>(e.fold)];
  }
  CHECK(positives == 2379);
  for (int64_t n : per_fold) CHECK((n >= 2100 && n <= 2170));  // about 10679 / 5 = 2135.8 each
  CHECK(folds.entries[0].fname == "1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027.png");
  CHECK(folds.entries[0].image_id == "1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027");
}

TEST_CASE("folds: malformed files name file and line") {
  TempDir dir;
  const std::string path = dir.file("f.csv");
  auto expect_bad = [&](const std::string& text, const std::vector<std::string>& parts) {
    write_file_atomic(path, text);
    std::vector<std::string> all = parts;
    all.push_back(path);
    expect_error([&] { read_folds(path); }, all);
  };
  expect_bad("fname,fold\na.png,0\n", {":1:", "expected the header 'fname,fold,exist_labels'"});
  expect_bad("fname,fold,exist_labels\na.png,0\n", {":2:", "expected 3 fields"});
  expect_bad("fname,fold,exist_labels\na.png,x,0\n", {":2:", "fold 'x'"});
  expect_bad("fname,fold,exist_labels\na.png,0,2\n", {":2:", "exist_labels '2'"});
  expect_bad("fname,fold,exist_labels\na.png,0,1\na.png,1,0\n", {":3:", "'a.png' appears twice"});
  expect_bad("fname,fold,exist_labels\na.png,0,1\nb.png,2,0\n", {"fold 1 holds no image"});
  expect_bad("fname,fold,exist_labels\n", {"no rows"});
  expect_bad("fname,fold,exist_labels\na.png,0,1\n../b.png,0,0\n", {":3:", "ImageId '../b.png' holds '/'"});
}

TEST_CASE("folds: stratified split is deterministic and balanced") {
  std::vector<std::pair<std::string, bool>> labels;
  for (int i = 0; i < 103; ++i) labels.emplace_back("img" + std::to_string(i), i % 4 == 0);  // 26 positives
  Folds a = make_stratified_folds(labels, 5, 42);
  Folds b = make_stratified_folds(labels, 5, 42);
  Folds c = make_stratified_folds(labels, 5, 43);
  REQUIRE(a.entries.size() == 103);
  bool same = true, differs = false;
  for (size_t i = 0; i < a.entries.size(); ++i) {
    same = same && a.entries[i].fold == b.entries[i].fold && a.entries[i].image_id == b.entries[i].image_id;
    differs = differs || a.entries[i].fold != c.entries[i].fold;
  }
  CHECK(same);
  CHECK(differs);
  std::vector<int> size(5, 0), pos(5, 0);
  for (const FoldEntry& e : a.entries) {
    ++size[static_cast<size_t>(e.fold)];
    pos[static_cast<size_t>(e.fold)] += e.positive;
    CHECK(e.fname == e.image_id + ".png");
  }
  // 103 = 5*20 + 3 and 26 = 5*5 + 1: sizes 20 or 21, positives 5 or 6.
  for (int f = 0; f < 5; ++f) {
    CHECK((size[static_cast<size_t>(f)] == 20 || size[static_cast<size_t>(f)] == 21));
    CHECK((pos[static_cast<size_t>(f)] == 5 || pos[static_cast<size_t>(f)] == 6));
  }
  // The input order does not matter (ids are sorted before the seeded shuffle).
  std::vector<std::pair<std::string, bool>> reversed(labels.rbegin(), labels.rend());
  Folds r = make_stratified_folds(reversed, 5, 42);
  for (size_t i = 0; i < a.entries.size(); ++i) CHECK(r.entries[i].fold == a.entries[i].fold);
  expect_error([&] { make_stratified_folds(labels, 1, 0); }, {"k = 1"});
  expect_error([&] { make_stratified_folds({{"a", true}, {"a", false}}, 2, 0); }, {"'a' given twice"});
}

TEST_CASE("folds: write, read back, and check against labels and images") {
  TempDir dir;
  std::filesystem::create_directories(dir.file("images"));
  write_file_atomic(dir.file("labels.csv"), "ImageId,EncodedPixels\na,-1\nb,0 3\nc,-1\nd,2 2\n");
  RleLabels labels = RleLabels::read(dir.file("labels.csv"), RleFormat::kSiimRelative);
  std::vector<std::pair<std::string, bool>> pairs;
  for (const std::string& id : labels.ids()) {
    pairs.emplace_back(id, labels.positive(id));
    write_file_atomic(dir.file("images/" + id + ".png"), "x");
  }
  Folds folds = make_stratified_folds(pairs, 2, 7);
  write_folds(dir.file("folds.csv"), folds);
  Folds back = read_folds(dir.file("folds.csv"));
  REQUIRE(back.entries.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(back.entries[i].image_id == folds.entries[i].image_id);
    CHECK(back.entries[i].fold == folds.entries[i].fold);
    CHECK(back.entries[i].positive == folds.entries[i].positive);
  }
  CHECK_NOTHROW(check_folds(back, labels, dir.file("images")));
  std::filesystem::remove(dir.file("images/c.png"));
  int c_line = 0;  // the header is line 1
  for (size_t i = 0; i < back.entries.size(); ++i)
    if (back.entries[i].image_id == "c") c_line = static_cast<int>(i) + 2;
  expect_error([&] { check_folds(back, labels, dir.file("images")); },
               {"1 image(s)", "missing", cat("'c.png' (", dir.file("folds.csv"), ":", c_line, ")")});
  back.entries.push_back({"zz", "zz.png", 0, false, ""});
  expect_error([&] { check_folds(back, labels, ""); }, {"absent from the labels", "'zz.png'"});
  back.entries.pop_back();
  back.entries[0].positive = !back.entries[0].positive;
  expect_error([&] { check_folds(back, labels, ""); }, {"disagreeing", "'" + back.entries[0].fname + "' ("});
}

TEST_CASE("folds: a row whose image is missing is named as written, with file:line, not as a cut ImageId") {
  TempDir dir;
  // A SIIM ImageId is a dotted UID: written without ".png", its last part reads as an extension.
  const std::string id = "1.2.276.0.7230010.3.1.4.8323329.1000.1517875165.878027";
  write_file_atomic(dir.file("folds.csv"), "fname,fold,exist_labels\n" + id + ".png,0,0\nb.png,1,0\n" + id + "x,1,0\n");
  std::filesystem::create_directories(dir.file("images"));
  write_file_atomic(dir.file("images/" + id + ".png"), "not read");
  write_file_atomic(dir.file("images/b.png"), "not read");
  const Folds folds = read_folds(dir.file("folds.csv"));
  CHECK(folds.entries[2].where == dir.file("folds.csv") + ":4");
  write_file_atomic(dir.file("labels.csv"),
                    "ImageId,EncodedPixels\n" + id + ",-1\nb,-1\n" + id.substr(0, id.rfind('.')) + ",-1\n");
  const RleLabels labels = RleLabels::read(dir.file("labels.csv"), RleFormat::kSiimRelative);
  expect_error([&] { check_folds(folds, labels, dir.file("images")); },
               {"1 image(s) of the folds are missing in", "'" + id + "x' (" + dir.file("folds.csv") + ":4)"});
}
