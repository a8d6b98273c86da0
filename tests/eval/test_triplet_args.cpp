// Tests of eval/triplet_args.h (numbers, lists and triplets from the command line) and
// eval/json.h (round-trip numbers, escaped strings).
#include <charconv>
#include <cmath>
#include <limits>

#include "tests/testing.h"
#include "eval/json.h"
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
}

TEST_CASE("json: numbers read back to the same double; strings escaped") {
  CHECK(json_number(0.75) == "0.75");
  CHECK(json_number(1000) == "1000");
  CHECK(json_number(0.3) == "0.3");
  CHECK(json_number(1.0) == "1");
  CHECK(json_number(1.0 / 3) == "0.3333333333333333");
  CHECK(json_number(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(json_number(std::numeric_limits<double>::infinity()) == "null");
  for (double v : {1.0 / 3, 2.0 / 3, 0.1 + 0.2, 1e-300, 0.9999999999999999, 123456.789}) {
    const std::string text = json_number(v);
    double back = 0;
    std::from_chars(text.data(), text.data() + text.size(), back);
    CHECK(back == v);
  }
  CHECK(json_string("a\"b\\c\n") == "\"a\\\"b\\\\c\\u000a\"");
}
