// The process-wide stop request: the tools' SIGINT / SIGTERM handler (tools/runner.cpp) records the
// signal, and long-running work polls it between items (train/ after every batch, infer/ between
// batches, data/prepare.cpp between images), then ends cleanly by throwing Interrupted, which the
// runner turns into exit status 128 + signal. Test: tests/engine/test_interrupt.cpp.
#pragma once

#include <string>

#include "engine/error.h"

namespace pleura {

// Async-signal-safe (a lock-free atomic store): a signal handler may call it.
void request_stop(int signal_number);
bool stop_requested();
int stop_signal();  // the signal of the request (0: none)
void clear_stop_request();

// "signal 2 (SIGINT)", "signal 15 (SIGTERM)"; "signal N" for any other.
std::string describe_signal(int signal_number);

// Work that ended early on a stop request. what() is "stopped by signal 2 (SIGINT)" followed by what was
// kept, e.g. "; the state is saved, continue with --resume".
class Interrupted : public Error {
 public:
  Interrupted(int signal_number, const std::string& kept);
  int signal_number() const { return signal_number_; }

 private:
  int signal_number_;
};

// Throws Interrupted(stop_signal(), kept) when a stop was requested.
void throw_if_stop_requested(const std::string& kept);

}  // namespace pleura
