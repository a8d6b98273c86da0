// The libFuzzer entry point of one fuzz program: PLEURA_FUZZ_TARGET (a compile definition set by
// tests/fuzz/CMakeLists.txt) names the target of fuzz_targets.h it drives. Not part of the unit tests.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pleura::fuzz::TargetFn run = pleura::fuzz::target(PLEURA_FUZZ_TARGET).run;
  return run(data, size);
}
