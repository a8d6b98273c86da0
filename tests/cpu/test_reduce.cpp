// cpu/reduce.h's deterministic sums: LaneSum's lane order worked by hand (a sum that a serial chain rounds
// differently), its restart at lane 0 on every run, lane_sum against a long double reference, and sum_over
// bit-identical at 1, 2 and 3 threads.
#include <cmath>
#include <vector>

#include "cpu/reduce.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::cpu;

namespace {
const double kTwo53 = std::ldexp(1.0, 53);  // past it, adding 1 to an even double is lost to the rounding
}

TEST_CASE("LaneSum: element i goes to lane i % 8, and the lanes are added in order") {
  // v[0] = 2^53 and v[8] = 1 share lane 0, where the 1 is lost; v[1] = v[9] = 1 make lane 1 equal to 2, which
  // survives: 2^53 + 2. A serial sum loses every 1: 2^53.
  std::vector<double> v(10, 0.0);
  v[0] = kTwo53;
  v[1] = v[8] = v[9] = 1.0;
  CHECK(lane_sum(10, [&](int64_t i) { return v[i]; }) == kTwo53 + 2.0);
  double serial = 0.0;
  for (double t : v) serial += t;
  CHECK(serial == kTwo53);
}

TEST_CASE("LaneSum: each run of add() starts again at lane 0") {
  // Runs [1, 1] and [2^53]: the 2^53 lands in lane 0 beside the first 1 (lost: ties to even), lane 1 holds 1,
  // and 2^53 + 1 rounds to 2^53. Had the second run gone on at lane 2, the total would be 2^53 + 2.
  LaneSum s;
  s.add(2, [](int64_t) { return 1.0; });
  s.add(1, [](int64_t) { return kTwo53; });
  CHECK(s.total() == kTwo53);
}

TEST_CASE("lane_sum: close to a long double sum for every tail length") {
  Rng gen(91);
  for (int64_t n : {0, 1, 7, 8, 9, 15, 16, 1000, 4099}) {
    CAPTURE(n);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = static_cast<float>(gen.uniform(-1.0, 1.0));
    long double want = 0.0L;
    for (float v : x) want += static_cast<long double>(v);
    const double got = lane_sum(n, [&](int64_t i) { return x[static_cast<size_t>(i)]; });
    CHECK(std::fabs(got - static_cast<double>(want)) <= 1e-13);
  }
}

TEST_CASE("sum_over: the same bits at 1, 2 and 3 threads") {
  Rng gen(92);
  std::vector<double> x(50000);
  for (double& v : x) v = gen.uniform(-1.0, 1.0) * std::pow(10.0, gen.uniform(-8.0, 8.0));
  const int threads_before = num_threads();
  std::vector<double> sums;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    sums.push_back(sum_of(x.data(), static_cast<int64_t>(x.size())));
  }
  set_num_threads(threads_before);
  CHECK(sums[0] == sums[1]);
  CHECK(sums[0] == sums[2]);
}
