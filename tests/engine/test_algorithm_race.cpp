// Tests of the race between candidate algorithms (engine/algorithm_race.h), the bookkeeping behind cuDNN's
// measured choice: medians, the give-up rule, failures, ties, bad input; and the policy that asks for it
// (engine/conv_algorithm_choice.h).
#include "engine/algorithm_race.h"

#include <limits>

#include "engine/conv_algorithm_choice.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
// Runs the race the way cuda/conv2d_cudnn.cu does, with each candidate's run times taken from `times`
// (an empty list: the candidate fails). Returns how many timed runs each candidate got.
std::vector<size_t> run_race(AlgorithmRace& race, const std::vector<std::vector<double>>& times) {
  std::vector<size_t> runs(times.size(), 0);
  for (size_t c = 0; c < times.size(); ++c) {
    if (times[c].empty()) {
      race.failed(c);
      continue;
    }
    while (race.wants_another_run(c)) race.record(c, times[c][runs[c]++]);
  }
  return runs;
}
}  // namespace

TEST_CASE("algorithm race: the lowest median wins, worked by hand") {
  // Medians: 5.0 (of 9, 5, 1), 3.0 (of 3, 3.5, 2.5), 4.0 (of 4, 4, 100: one slow run does not count).
  AlgorithmRace race(3, 3, 4.0);
  const std::vector<size_t> runs = run_race(race, {{9.0, 5.0, 1.0}, {3.0, 3.5, 2.5}, {4.0, 4.0, 100.0}});
  CHECK(runs == std::vector<size_t>{3, 3, 3});
  CHECK(*race.median_ms(0) == 5.0);
  CHECK(*race.median_ms(1) == 3.0);
  CHECK(*race.median_ms(2) == 4.0);
  REQUIRE(race.winner());
  CHECK(*race.winner() == 1);
}

TEST_CASE("algorithm race: an even count of runs takes the mean of the middle two") {
  AlgorithmRace race(1, 4, 4.0);
  run_race(race, {{8.0, 2.0, 6.0, 4.0}});
  CHECK(*race.median_ms(0) == 5.0);
}

TEST_CASE("algorithm race: a hopeless candidate gets one timed run, a close one all of them") {
  // The best median so far is 2.0; 8.0 is exactly the limit (4x, kept), 8.5 is over it (dropped).
  AlgorithmRace race(3, 3, 4.0);
  const std::vector<size_t> runs = run_race(race, {{2.0, 2.0, 2.0}, {8.0, 8.0, 8.0}, {8.5, 0.1, 0.1}});
  CHECK(runs == std::vector<size_t>{3, 3, 1});
  CHECK(*race.median_ms(2) == 8.5);  // its one run is its time: the fast runs it never made do not count
  CHECK(*race.winner() == 0);
}

TEST_CASE("algorithm race: the first candidate is never given up, whatever its time") {
  AlgorithmRace race(2, 2, 1.0);
  const std::vector<size_t> runs = run_race(race, {{50.0, 40.0}, {1.0, 1.0}});
  CHECK(runs == std::vector<size_t>{2, 2});
  CHECK(*race.winner() == 1);
}

TEST_CASE("algorithm race: ties go to the earlier candidate, failures never win") {
  AlgorithmRace race(4, 1, 4.0);
  run_race(race, {{}, {3.0}, {3.0}, {}});
  CHECK_FALSE(race.median_ms(0));
  CHECK_FALSE(race.median_ms(3));
  CHECK(*race.winner() == 1);

  AlgorithmRace none(2, 3, 4.0);
  run_race(none, {{}, {}});
  CHECK_FALSE(none.winner());
  CHECK_FALSE(none.wants_another_run(0));
  CHECK_FALSE(AlgorithmRace(0).winner());
}

TEST_CASE("algorithm race: a failure after timed runs clears them") {
  AlgorithmRace race(2, 3, 4.0);
  race.record(0, 1.0);
  race.failed(0);  // e.g. a later run was refused
  race.record(1, 5.0);
  CHECK_FALSE(race.median_ms(0));
  CHECK(*race.winner() == 1);
}

TEST_CASE("algorithm race: bad input is refused with the value") {
  AlgorithmRace race(2, 3, 4.0);
  expect_error([&] { race.record(2, 1.0); }, {"candidate 2 of 2"});
  expect_error([&] { race.record(0, -1.0); }, {"candidate 0", "-1", "finite time >= 0"});
  expect_error([&] { race.record(0, std::numeric_limits<double>::quiet_NaN()); }, {"nan", "finite"});
  race.failed(1);
  expect_error([&] { race.record(1, 1.0); }, {"candidate 1 failed"});
  expect_error([] { AlgorithmRace(2, 0, 4.0); }, {"timed_runs = 0", "at least 1"});
  expect_error([] { AlgorithmRace(2, 3, 0.5); }, {"give_up_ratio = 0.5", ">= 1"});
}

TEST_CASE("conv algorithm choice: parsed by name, set for a scope") {
  // tests/main.cpp makes the parity tests reproducible; the tools' default is measured.
  CHECK(conv_algorithm_choice() == ConvAlgorithmChoice::kReproducible);
  CHECK(parse_conv_algorithm_choice("measured", "x.ini:4") == ConvAlgorithmChoice::kMeasured);
  CHECK(parse_conv_algorithm_choice("reproducible", "x.ini:4") == ConvAlgorithmChoice::kReproducible);
  CHECK(std::string(conv_algorithm_choice_name(ConvAlgorithmChoice::kMeasured)) == "measured");
  expect_error([] { parse_conv_algorithm_choice("fastest", "x.ini:4: [run] cudnn_algorithms"); },
               {"x.ini:4: [run] cudnn_algorithms", "'fastest'", "measured or reproducible"});
  {
    const ConvAlgorithmChoiceScope measured(ConvAlgorithmChoice::kMeasured);
    CHECK(conv_algorithm_choice() == ConvAlgorithmChoice::kMeasured);
  }
  CHECK(conv_algorithm_choice() == ConvAlgorithmChoice::kReproducible);
}
