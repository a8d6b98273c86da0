// The stop request (see interrupt.h).
#include "engine/interrupt.h"

#include <atomic>
#include <csignal>

namespace pleura {

namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only touch lock-free atomics");

}  // namespace

void request_stop(int signal_number) { g_stop_signal.store(signal_number); }
bool stop_requested() { return g_stop_signal.load() != 0; }
int stop_signal() { return g_stop_signal.load(); }
void clear_stop_request() { g_stop_signal.store(0); }

std::string describe_signal(int signal_number) {
  switch (signal_number) {
    case SIGINT:
      return cat("signal ", signal_number, " (SIGINT)");
    case SIGTERM:
      return cat("signal ", signal_number, " (SIGTERM)");
    default:
      return cat("signal ", signal_number);
  }
}

Interrupted::Interrupted(int signal_number, const std::string& kept)
    : Error(cat("stopped by ", describe_signal(signal_number), kept)), signal_number_(signal_number) {}

void throw_if_stop_requested(const std::string& kept) {
  const int signal_number = stop_signal();
  if (signal_number != 0) throw Interrupted(signal_number, kept);
}

}  // namespace pleura
