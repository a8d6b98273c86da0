// Tests of train/train_log.h and train/learning_curve.h: Python-style number and triplet texts (the
// reference's summary.csv columns), CSV logs (quoting, truncation, header check), the progress lines and
// the learning-curve drawing.
#include "train/train_log.h"

#include <cmath>
#include <sstream>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "data/image_io.h"
#include "train/learning_curve.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("train log: numbers and triplets read as Python's repr and str write them") {
  // Expected texts: Python 3.11's repr() of the same doubles.
  CHECK(format_number(0.75) == "0.75");
  CHECK(format_number(1000.0) == "1000.0");
  CHECK(format_number(0.0001) == "0.0001");
  CHECK(format_number(1e-05) == "1e-05");
  CHECK(format_number(5e-06) == "5e-06");
  CHECK(format_number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(format_number(1e16) == "1e+16");
  CHECK(format_number(123456789012345678.0) == "1.2345678901234568e+17");
  CHECK(format_number(-2.5) == "-2.5");
  CHECK(format_number(0.0) == "0.0");
  CHECK(format_number(12345.678) == "12345.678");
  CHECK(std::stod(format_number(0.7750000007314203)) == 0.7750000007314203);
  CHECK(triplet_label(Triplet{0.75, 1000, 0.3}) == "(0.75, 1000, 0.3)");
  CHECK(triplet_label(Triplet{0.6, 0, 0.4}) == "(0.6, 0, 0.4)");
}

TEST_CASE("train log: CSV rows are appended whole, quoted, truncated back, and checked against the header") {
  TempDir t;
  const CsvLog s = summary_csv(t.file("summary.csv"), {{0.75, 1000, 0.3}, {0.6, 2000, 0.4}});
  CHECK(s.rows() == 0);
  CHECK_FALSE(best_in_summary(s).has_value());
  s.append({"0", "0.5", "0.5", "0.25"});
  s.append({"1", "0.75", "0.5", "0.75"});
  s.append({"2", "0.625", "0.625", "0.5"});
  CHECK(read_file(t.file("summary.csv")) ==
        "epoch,best_metric,\"(0.75, 1000, 0.3)\",\"(0.6, 2000, 0.4)\"\n0,0.5,0.5,0.25\n1,0.75,0.5,0.75\n2,0.625,0.625,0.5\n");
  CHECK(*best_in_summary(s) == 0.75);
  s.truncate(1);
  CHECK(s.rows() == 1);
  CHECK(s.column("best_metric") == std::vector<std::string>{"0.5"});
  expect_error([&] { s.append({"1"}); }, {"a row of 1 fields for 4 columns"});
  const CsvLog other = summary_csv(t.file("summary.csv"), {{0.5, 0, 0.5}});
  expect_error([&] { other.rows(); }, {"has the header", "another grid of triplets"});

  const CsvLog m = metrics_csv(t.file("metrics.csv"));
  m.append({"0", "1.5", "0.001", "12.00", "0.0100", "(0.75, 1000, 0.3)", "0.8"});
  CHECK(m.column("best_triplet") == std::vector<std::string>{"(0.75, 1000, 0.3)"});
  CHECK(m.column("score") == std::vector<std::string>{"0.8"});
}

TEST_CASE("train log: progress as plain lines every tenth, then one closing line") {
  std::ostringstream out;
  EpochProgress p(out, false, "fold 0 epoch 1 train", 20);
  for (int i = 0; i < 20; ++i) p.advance("loss 0.5");
  p.finish("loss 0.4");
  const std::string text = out.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 10);  // 2/20 .. 18/20, then the closing line
  CHECK(text.find("fold 0 epoch 1 train 2/20 loss 0.5 ETA") != std::string::npos);
  CHECK(text.find("fold 0 epoch 1 train 20/20 loss 0.4 done in") != std::string::npos);
  std::ostringstream bar;
  EpochProgress b(bar, true, "x", 4, 2);  // a resumed epoch starts part way
  b.finish("s");
  CHECK(bar.str().find("\rx [############............] 2/4 s in") == 0);
}

TEST_CASE("learning curve: the score and loss lines are drawn where their values say") {
  const std::vector<CurvePoint> points = {{0, 2.0, 0.5}, {1, 1.0, std::nan("")}, {2, 0.5, 1.0}};
  const GrayImage img = draw_learning_curve(points, 640, 360);
  REQUIRE(img.width == 640);
  REQUIRE(img.height == 360);
  // Plot box: x 44..580, y 28 (1.0) .. 326 (0.0). Score 1.0 at epoch 2 (x 580, y 28): a black marker.
  CHECK(img.at(28, 578) == 0);
  // Score 0.5 at x 44: y = 326 - 149 = 177.
  CHECK(img.at(177, 46) == 0);
  // The loss at its maximum (2.0 -> the top) at x 44 is grey; loss 1.0 at x 312 sits at mid-height.
  CHECK(img.at(28, 45) == 120);
  CHECK(img.at(177, 312) == 120);
  // Away from every line and label the background stays white.
  CHECK(img.at(250, 450) == 255);
  TempDir t;
  const CsvLog m = metrics_csv(t.file("metrics.csv"));
  m.append({"0", "2.0", "0.001", "1.00", "0.0", "", ""});
  m.append({"1", "1.0", "0.001", "1.00", "0.0", "(0.75, 1000, 0.3)", "0.6"});
  write_learning_curve(t.file("metrics.csv"), t.file("curve.png"));
  CHECK(data::read_image_gray(t.file("curve.png")).width == 640);
}
