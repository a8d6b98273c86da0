// Tests of data/rle.h and rle_csv.h: worked examples of both RLE forms, round trips on random masks
// (with a run reaching the last pixel), malformed strings and rows, the tolerant CSV reader, and SIIM's
// published 10-row sample checked against a naive decoder written here.
#include <fstream>
#include <set>
#include <sstream>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "data/rle.h"
#include "data/rle_csv.h"

using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

namespace {

// Independent decoder for the tests: counts the distinct pixels the runs cover (relative form).
int64_t naive_relative_count(const std::string& rle) {
  std::istringstream in(rle);
  std::vector<long long> v;
  long long x;
  while (in >> x) v.push_back(x);
  if (v.size() == 1 && v[0] == -1) return 0;
  std::set<long long> on;
  long long pos = 0;
  for (size_t i = 0; i + 1 < v.size(); i += 2) {
    pos += v[i];
    for (long long k = 0; k < v[i + 1]; ++k) on.insert(pos + k);
    pos += v[i + 1];
  }
  return static_cast<int64_t>(on.size());
}

int64_t count_on(const GrayImage& mask) {
  int64_t n = 0;
  for (uint8_t p : mask.pixels) n += p != 0;
  return n;
}

}  // namespace

TEST_CASE("rle: worked example in both forms, with a run ending on the last pixel") {
  // H = 3, W = 4; column-major indices: (y, x) -> x*3 + y. Pixels (1,0), (2,0), (0,1) are indices 1..3,
  // and (2,3) is index 11, the last pixel.
  GrayImage mask(3, 4, 0);
  mask.at(1, 0) = mask.at(2, 0) = mask.at(0, 1) = 255;
  mask.at(2, 3) = 1;  // any nonzero value counts as "on"
  CHECK(encode_rle(mask, RleFormat::kSiimRelative) == "1 3 7 1");  // 11 - (1 + 3) = 7 pixels skipped
  CHECK(encode_rle(mask, RleFormat::kAbsolute) == "2 3 12 1");     // 1-based starts
  GrayImage back = decode_rle("1 3 7 1", 3, 4, RleFormat::kSiimRelative);
  CHECK(back.at(1, 0) == 255);
  CHECK(back.at(2, 3) == 255);
  CHECK(count_on(back) == 4);
  CHECK(decode_rle("2 3 12 1", 3, 4, RleFormat::kAbsolute).pixels == back.pixels);
  CHECK(encode_rle(GrayImage(3, 4, 0), RleFormat::kSiimRelative) == "-1");
  CHECK(count_on(decode_rle(" -1", 3, 4, RleFormat::kSiimRelative)) == 0);
  // A full mask is one run from 0 (relative) / 1 (absolute) of length H*W.
  CHECK(encode_rle(GrayImage(3, 4, 255), RleFormat::kSiimRelative) == "0 12");
  CHECK(encode_rle(GrayImage(3, 4, 255), RleFormat::kAbsolute) == "1 12");
}

TEST_CASE("rle: random masks round trip in both forms") {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const int64_t H = 17 + static_cast<int64_t>(seed) * 3, W = 23 + static_cast<int64_t>(seed) * 5;
    GrayImage mask = random_mask(H, W, seed, 0.05 * static_cast<double>(seed));
    if (seed % 2 == 0) mask.at(H - 1, W - 1) = 255;  // a run touching the last pixel
    for (RleFormat format : {RleFormat::kSiimRelative, RleFormat::kAbsolute}) {
      CAPTURE(seed);
      const std::string rle = encode_rle(mask, format);
      CHECK(decode_rle(rle, H, W, format).pixels == mask.pixels);
    }
    CHECK(naive_relative_count(encode_rle(mask, RleFormat::kSiimRelative)) == count_on(mask));
  }
}

TEST_CASE("rle: several rows of one image are OR-ed, overlaps included") {
  GrayImage mask(4, 4, 0);
  paint_rle(parse_rle("0 3", RleFormat::kSiimRelative, "a"), RleFormat::kSiimRelative, mask, "a");
  paint_rle(parse_rle("2 3", RleFormat::kSiimRelative, "b"), RleFormat::kSiimRelative, mask, "b");
  CHECK(count_on(mask) == 5);  // indices 0..2 and 2..4
}

TEST_CASE("rle: malformed strings are refused with the place and the reason") {
  const auto rel = RleFormat::kSiimRelative;
  expect_error([&] { parse_rle("1 2 3", rel, "f.csv:4"); }, {"f.csv:4", "odd count"});
  expect_error([&] { parse_rle("1 2 x3 4", rel, "f.csv:5"); }, {"f.csv:5", "'x3' is not a non-negative integer"});
  expect_error([&] { parse_rle("1 -2", rel, "f.csv:6"); }, {"f.csv:6", "negative number '-2'"});
  expect_error([&] { parse_rle("1 2.5", rel, "f.csv:7"); }, {"f.csv:7", "'2.5'"});
  expect_error([&] { parse_rle("", rel, "f.csv:8"); }, {"f.csv:8", "empty RLE"});
  expect_error([&] { parse_rle("3 0", rel, "f.csv:9"); }, {"f.csv:9", "run 1 has length 0"});
  expect_error([&] { parse_rle("0 2", RleFormat::kAbsolute, "f.csv:10"); }, {"f.csv:10", "1-based"});
  expect_error([&] { parse_rle("99999999999999999999 1", rel, "f.csv:11"); }, {"f.csv:11", "99999999999999999999"});
  // Runs past the image: 3 x 4 has 12 pixels.
  expect_error([&] { decode_rle("5 8", 3, 4, rel, "f.csv:12"); }, {"f.csv:12", "pixels 5..12", "only 12 pixels"});
  expect_error([&] { decode_rle("0 5 3 5", 3, 4, rel, "f.csv:13"); }, {"f.csv:13", "run 2", "pixels 8..12"});
  expect_error([&] { decode_rle("12 2", 3, 4, RleFormat::kAbsolute, "f.csv:14"); }, {"f.csv:14", "pixels 11..12"});
  CHECK_NOTHROW(decode_rle("12 1", 3, 4, RleFormat::kAbsolute));
  expect_error([&] { parse_rle_format("zigzag"); }, {"unknown RLE format 'zigzag'"});
  CHECK(parse_rle_format("SIIM") == RleFormat::kSiimRelative);
  CHECK(parse_rle_format("absolute") == RleFormat::kAbsolute);
}

TEST_CASE("rle csv: tolerant of BOM, header variants, CRLF, no final newline; rows OR-ed") {
  TempDir dir;
  const std::string path = dir.file("labels.csv");
  write_file_atomic(path, std::string("\xEF\xBB\xBFImageId, EncodedPixels\r\n") + "a, -1\r\n" + "b, 0 2\r\n" +
                              "c,-1\r\n" + "b, 3 1\r\n" + "\r\n" + "d, 1 1");
  RleLabels labels = RleLabels::read(path, RleFormat::kSiimRelative);
  CHECK(labels.ids() == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(!labels.positive("a"));
  CHECK(labels.positive("b"));
  CHECK(labels.rows("b").size() == 2);
  CHECK(labels.rows("b")[1].line == 5);
  GrayImage b = labels.mask("b", 3, 3);
  // Row 1: indices 0,1. Row 2 (its own cursor): index 3. Union: 0, 1, 3 -> (0,0), (1,0), (0,1).
  CHECK(count_on(b) == 3);
  CHECK(b.at(0, 1) == 255);
  CHECK(count_on(labels.mask("a", 3, 3)) == 0);
  write_file_atomic(path, "fname,mask\nx,-1\n");
  CHECK(RleLabels::read(path, RleFormat::kSiimRelative).contains("x"));
}

TEST_CASE("rle csv: malformed files name file and line") {
  TempDir dir;
  const std::string path = dir.file("bad.csv");
  auto expect_bad = [&](const std::string& text, const std::vector<std::string>& parts) {
    write_file_atomic(path, text);
    std::vector<std::string> all = parts;
    all.push_back(path);
    expect_error([&] { RleLabels::read(path, RleFormat::kSiimRelative); }, all);
  };
  expect_bad("", {"empty label file"});
  expect_bad("id,rle\na,-1\n", {":1:", "expected the header"});
  expect_bad("ImageId,EncodedPixels\na,-1\nb,1 2 3\n", {":3:", "odd count"});
  expect_bad("ImageId,EncodedPixels\na,-1,7\n", {":2:", "expected 2 fields"});
  expect_bad("ImageId,EncodedPixels\n,-1\n", {":2:", "empty ImageId"});
  // ImageIds become file names: a path, "..", or a control character is refused (a user trial wrote
  // outside its folders through an id like ../../x).
  expect_bad("ImageId,EncodedPixels\n../../x,-1\n", {":2:", "ImageId '../../x' holds '/'", "a path is not one"});
  expect_bad("ImageId,EncodedPixels\na,-1\n..,-1\n", {":3:", "ImageId '..' cannot name a file"});
  expect_bad("ImageId,EncodedPixels\nb\\c,-1\n", {":2:", "holds '\\'"});
  expect_bad("ImageId,EncodedPixels\nb\x01,-1\n", {":2:", "control character 1"});
  expect_bad("ImageId,EncodedPixels\n" + std::string(201, 'i') + ",-1\n", {":2:", "201 bytes; at most 200"});
  expect_bad("ImageId,EncodedPixels\na, 4 x\n", {":2:", "'x'"});
  expect_bad("ImageId,EncodedPixels\na, 4 -1\n", {":2:", "negative"});
  write_file_atomic(path, "ImageId,EncodedPixels\na,-1\nb, 5 20\n");
  RleLabels labels = RleLabels::read(path, RleFormat::kSiimRelative);
  expect_error([&] { labels.mask("b", 4, 4); }, {path + ":3", "(b)", "only 16 pixels"});
  expect_error([&] { labels.mask("zz", 4, 4); }, {"no label row for ImageId 'zz'"});
}

TEST_CASE("rle csv: write then read back") {
  TempDir dir;
  const std::string path = dir.file("out.csv");
  GrayImage m = random_mask(20, 30, 9, 0.2);
  write_rle_csv(path, {{"p", encode_rle(m, RleFormat::kSiimRelative)}, {"n", "-1"}}, RleCsvStyle::kSiimTrain);
  CHECK(slurp(path).rfind("ImageId, EncodedPixels\np, ", 0) == 0);
  RleLabels labels = RleLabels::read(path, RleFormat::kSiimRelative);
  CHECK(labels.mask("p", 20, 30).pixels == m.pixels);
  CHECK(!labels.positive("n"));
  expect_error([&] { write_rle_csv(path, {{"a,b", "-1"}}); }, {"'a,b'", "comma"});
}

TEST_CASE("rle csv: SIIM's published sample decodes to 5 empty and 5 non-empty 1024x1024 masks") {
  const std::string path = std::string(PLEURA_FIXTURES_DIR) + "/siim/train-rle-sample.csv";
  RleLabels labels = RleLabels::read(path, RleFormat::kSiimRelative);
  REQUIRE(labels.ids().size() == 10);
  // The naive decoder reads the same file with its own parsing: fields after the first comma.
  std::string text = slurp(path);
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // header
  int empty = 0, positive = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const size_t comma = line.find(',');
    const std::string id = line.substr(0, comma), rle = line.substr(comma + 1);
    const int64_t expected = naive_relative_count(rle);
    GrayImage mask = labels.mask(id, 1024, 1024);
    CAPTURE(id);
    CHECK(count_on(mask) == expected);
    (expected == 0 ? empty : positive) += 1;
    CHECK(labels.positive(id) == (expected > 0));
  }
  CHECK(empty == 5);
  CHECK(positive == 5);
}
