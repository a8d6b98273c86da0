// Tests of eval/scoring.h: the four scores of a 4-image example worked by hand (every dice case:
// overlap, empty/empty, false positive, false negative), several rows per ImageId OR-ed, a truth against
// itself, the JSON report (format pinned by hand, numbers read back to the same doubles), and the id checks.
#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "eval/scoring.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

namespace {

data::RleLabels labels(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.file(name)) << text;
  return data::RleLabels::read(dir.file(name), data::RleFormat::kSiimRelative);
}

}  // namespace

TEST_CASE("scoring: a 4-image example worked by hand") {
  TempDir dir;
  // 4x4 masks, column-major pixel indices. truth: a = pixels 0..3, b empty, c empty, d = pixels 5..6.
  // submission: a = pixels 2..5 (overlap 2 of 4 + 4), b empty, c = pixels 8..9, d empty.
  const data::RleLabels truth = labels(dir, "t.csv", "ImageId,EncodedPixels\na,0 4\nb,-1\nc,-1\nd,5 2\n");
  const data::RleLabels sub = labels(dir, "s.csv", "ImageId,EncodedPixels\nd,-1\nc,8 2\nb,-1\na,2 4\n");
  ScoreOptions o;
  o.height = o.width = 4;
  const SubmissionScore s = score_submission(sub, truth, o);
  const double eps = 1e-6;
  const double da = (2 * 2 + eps) / (4 + 4 + eps), db = 1.0, dc = eps / (2 + eps), dd = eps / (2 + eps);
  CHECK(s.images == 4);
  CHECK(s.positive_images == 2);
  CHECK(s.predicted_positive == 2);
  CHECK(s.kaggle_dice == doctest::Approx((da + db + dc + dd) / 4).epsilon(1e-14));
  CHECK(s.dice_positive == doctest::Approx((da + dd) / 2).epsilon(1e-14));
  CHECK(s.empty_accuracy == 0.5);  // a and b right, c (false positive) and d (false negative) wrong
  // All -1: a and d score eps / (T + eps), b and c score 1.
  CHECK(s.empty_submission_dice == doctest::Approx((eps / (4 + eps) + 1 + 1 + eps / (2 + eps)) / 4).epsilon(1e-14));
  CHECK(score_text(s) ==
        "images: 4 (2 with a non-empty truth, 2 predicted non-empty)\n"
        "kaggle_dice: 0.375000\ndice_positive: 0.250000\nempty_accuracy: 0.500000\n"
        "empty_submission_dice: 0.500000\n");
}

TEST_CASE("scoring: rows OR-ed, a truth against itself scores 1") {
  TempDir dir;
  const data::RleLabels truth = labels(dir, "t.csv", "ImageId,EncodedPixels\na,0 4\nb,-1\na,6 2\n");
  // The same masks in one row per image, and split differently.
  const data::RleLabels sub = labels(dir, "s.csv", "ImageId,EncodedPixels\na,0 2\nb,-1\na,2 2 2 2\n");
  ScoreOptions o;
  o.height = o.width = 4;
  // a has 6 truth pixels (0..3 and 6..7): an all-empty submission scores (eps / (6 + eps) + 1) / 2.
  for (const data::RleLabels* s : {&truth, &sub}) {
    const SubmissionScore r = score_submission(*s, truth, o);
    CHECK(r.kaggle_dice == 1.0);
    CHECK(r.dice_positive == 1.0);
    CHECK(r.empty_accuracy == 1.0);
    CHECK(r.images == 2);
    // (1e-6 / (6 + 1e-6) + 1) / 2 is 0.5000000833333195 (Python's repr, the shortest round-trip form).
    CHECK(score_json(r) ==
          "{\"kaggle_dice\":1.0,\"dice_positive\":1.0,\"empty_accuracy\":1.0,\"empty_submission_dice\":"
          "0.5000000833333195,\"images\":2,\"positive_images\":1}");
  }
  // No positive image: dice_positive is NaN (null in JSON).
  const data::RleLabels empty = labels(dir, "e.csv", "ImageId,EncodedPixels\nb,-1\n");
  const SubmissionScore e = score_submission(empty, empty, o);
  CHECK(std::isnan(e.dice_positive));
  CHECK(score_json(e).find("\"dice_positive\":null") != std::string::npos);
  CHECK(score_text(e).find("dice_positive: n/a (no positive image)") != std::string::npos);
}

TEST_CASE("scoring: the JSON report reads back to the same doubles, keys in order, NaN and infinities as null") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto score = [](double kaggle, double positive, double accuracy, double empty, int64_t images, int64_t positives) {
    SubmissionScore s;
    s.kaggle_dice = kaggle, s.dice_positive = positive, s.empty_accuracy = accuracy, s.empty_submission_dice = empty;
    s.images = images, s.positive_images = positives;
    return s;
  };
  const std::vector<SubmissionScore> cases = {score(1.0 / 3, 2.0 / 3, 0.1 + 0.2, 1e-300, 7, 3),
                                              score(0.9999999999999999, 123456.789, 5e-324, 0.3, 1000000, 999999),
                                              score(0.5, nan, inf, -inf, 1, 0)};
  for (const SubmissionScore& s : cases) {
    const std::string text = score_json(s);
    INFO(text);
    CHECK(text.find('\n') == std::string::npos);
    const nlohmann::ordered_json j = nlohmann::ordered_json::parse(text);
    std::vector<std::string> keys;
    for (const auto& item : j.items()) keys.push_back(item.key());
    CHECK(keys == std::vector<std::string>{"kaggle_dice", "dice_positive", "empty_accuracy", "empty_submission_dice",
                                           "images", "positive_images"});
    const double values[] = {s.kaggle_dice, s.dice_positive, s.empty_accuracy, s.empty_submission_dice};
    for (int k = 0; k < 4; ++k) {
      CAPTURE(keys[static_cast<size_t>(k)]);
      const nlohmann::ordered_json& v = j[keys[static_cast<size_t>(k)]];
      if (std::isfinite(values[k])) {
        CHECK(v.get<double>() == values[k]);
      } else {
        CHECK(v.is_null());
      }
    }
    CHECK(j["images"].get<int64_t>() == s.images);
    CHECK(j["positive_images"].get<int64_t>() == s.positive_images);
  }
}

TEST_CASE("scoring: missing and extra ImageIds") {
  TempDir dir;
  const data::RleLabels truth = labels(dir, "t.csv", "ImageId,EncodedPixels\na,-1\nb,-1\nc,0 1\n");
  const data::RleLabels short_sub = labels(dir, "s.csv", "ImageId,EncodedPixels\nb,-1\n");
  ScoreOptions o;
  o.height = o.width = 4;
  expect_error([&] { score_submission(short_sub, truth, o); },
               {"2 ImageId(s) of " + dir.file("t.csv") + " have no row in " + dir.file("s.csv") + ": a, c"});
  const data::RleLabels long_sub = labels(dir, "l.csv", "ImageId,EncodedPixels\na,-1\nb,-1\nc,0 1\nz,-1\ny,0 1\n");
  expect_error([&] { score_submission(long_sub, truth, o); },
               {"2 ImageId(s) of " + dir.file("l.csv") + " are not in " + dir.file("t.csv") + ": z, y",
                "--ignore-extra"});
  o.ignore_extra = true;
  std::vector<std::string> extra;
  CHECK(score_submission(long_sub, truth, o, &extra).kaggle_dice == 1.0);
  CHECK(extra == std::vector<std::string>{"z", "y"});
  // A run past the mask's end names the file and line.
  const data::RleLabels big = labels(dir, "b.csv", "ImageId,EncodedPixels\na,-1\nb,-1\nc,10 10\n");
  expect_error([&] { score_submission(big, truth, o); }, {dir.file("b.csv") + ":4 (c)", "only 16 pixels"});
}
