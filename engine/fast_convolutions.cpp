// The inference convolution policy (engine/fast_convolutions.h): one process-wide flag, refused by
// PLEURA_INFER_WINOGRAD=0. Tests: tests/ops/test_conv2d_winograd_f4.cpp.
#include "engine/fast_convolutions.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace pleura {

namespace {

std::atomic<bool>& policy_slot() {
  static std::atomic<bool> slot{false};
  return slot;
}

bool environment_forbids() {
  const char* value = std::getenv("PLEURA_INFER_WINOGRAD");
  return value != nullptr && std::strcmp(value, "0") == 0;
}

}  // namespace

void set_fast_inference_convolutions(bool on) { policy_slot().store(on && !environment_forbids()); }
bool fast_inference_convolutions() { return policy_slot().load(); }

bool fast_inference_convolutions_run_on(Device device) {
  return device.is_cpu() && cpu::fast_inference_convolutions_available();
}

}  // namespace pleura
