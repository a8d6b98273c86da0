// Tests of engine/interrupt.h: the stop request's life cycle, the signal names, and the Interrupted error
// that long-running work throws when it sees a request. (Signals themselves: tests/tools/test_runner.cpp.)
#include <csignal>

#include "engine/interrupt.h"
#include "tests/testing.h"

using namespace pleura;

TEST_CASE("interrupt: a stop request is recorded with its signal until cleared") {
  clear_stop_request();
  CHECK_FALSE(stop_requested());
  CHECK(stop_signal() == 0);
  CHECK_NOTHROW(throw_if_stop_requested("; nothing"));
  request_stop(SIGTERM);
  CHECK(stop_requested());
  CHECK(stop_signal() == 15);
  try {
    throw_if_stop_requested("; the maps so far are complete");
    FAIL("expected Interrupted");
  } catch (const Interrupted& e) {
    CHECK(e.signal_number() == 15);
    CHECK(std::string(e.what()) == "stopped by signal 15 (SIGTERM); the maps so far are complete");
  }
  clear_stop_request();
  CHECK_FALSE(stop_requested());
  CHECK(stop_signal() == 0);
}

TEST_CASE("interrupt: signal names") {
  CHECK(describe_signal(SIGINT) == "signal 2 (SIGINT)");
  CHECK(describe_signal(SIGTERM) == "signal 15 (SIGTERM)");
  CHECK(describe_signal(SIGHUP) == "signal 1");
  const Interrupted hup(SIGHUP, "");
  CHECK(std::string(hup.what()) == "stopped by signal 1");
  CHECK(hup.signal_number() == 1);
}
