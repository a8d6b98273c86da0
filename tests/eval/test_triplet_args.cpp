// Tests of eval/triplet_args.h (numbers, lists and triplets from the command line).
#include "tests/testing.h"
#include "eval/triplet_args.h"

using namespace pleura;
using namespace pleura::eval;

TEST_CASE("triplet_args: lists and triplets") {
  CHECK(parse_threshold_list("tops", "0.6,0.75") == std::vector<double>{0.6, 0.75});
  CHECK(parse_threshold_list("tops", "1e-1") == std::vector<double>{0.1});
  CHECK(parse_area_list("areas", "0,1000,2000") == std::vector<int64_t>{0, 1000, 2000});
  const Triplet t = parse_triplet("triplet", "0.75,1000,0.3");
  CHECK(t.top == 0.75);
  CHECK(t.min_area == 1000);
  CHECK(t.bottom == 0.3);
  auto usage = [](const std::function<void()>& fn, const std::string& part) {
    try {
      fn();
    } catch (const Error& e) {
      CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos, e.what());
      return;
    }
    FAIL("expected a pleura::Error with '", part, "'");
  };
  usage([] { parse_threshold_list("tops", "0.6,,0.7"); }, "option --tops '0.6,,0.7': item 2 is empty");
  usage([] { parse_threshold_list("tops", "0.6,abc"); }, "option --tops '0.6,abc': 'abc' is not a number");
  usage([] { parse_threshold_list("tops", "0.6 "); }, "'0.6 ' is not a number");
  usage([] { parse_threshold_list("tops", "nan"); }, "'nan' is not a number");
  usage([] { parse_threshold_list("tops", "inf"); }, "'inf' is not a number");
  usage([] { parse_area_list("areas", "10,2.5"); }, "option --areas '10,2.5': '2.5' is not an integer area");
  usage([] { parse_area_list("areas", "-1"); }, "'-1' is not an integer area");
  usage([] { parse_triplet("triplet", "0.75,1000"); }, "'0.75,1000' has 2 items, expected TOP,AREA,BOTTOM");
  usage([] { parse_triplet("triplet", "0.75,x,0.3"); }, "'x' is not an integer area");
  usage([] { parse_triplet("triplet", "0.75,10,"); }, "item 3 is empty");
  // Thresholds are probabilities, as in the training config (a user trial passed 1.5 unnoticed).
  usage([] { parse_triplet("triplet", "0.5,10,1.5"); }, "option --triplet '0.5,10,1.5': threshold 1.5 is not in [0, 1]");
  usage([] { parse_threshold_list("tops", "0.2,1.5"); }, "option --tops '0.2,1.5': threshold 1.5 is not in [0, 1]");
  usage([] { parse_threshold_list("bottoms", "-0.1"); }, "threshold -0.1 is not in [0, 1]");
  CHECK(parse_threshold_list("tops", "0,1") == std::vector<double>{0.0, 1.0});
  usage([] { parse_threshold_list("tops", "1e400"); }, "'1e400' is out of the range of a double");
}
