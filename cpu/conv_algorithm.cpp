// The CPU convolution algorithm switch (cpu/conv_algorithm.h): read once from PLEURA_CPU_CONV, settable by
// tests and benchmarks. Tests: tests/ops/test_conv2d_onednn.cpp, tests/ops/test_conv2d_winograd.cpp.
#include "cpu/conv_algorithm.h"

#include <atomic>
#include <cstdlib>

#include "cpu/conv2d_onednn.h"
#include "engine/error.h"

namespace pleura::cpu {

namespace {

ConvAlgorithm algorithm_from_environment() {
  const char* value = std::getenv("PLEURA_CPU_CONV");
  return parse_conv_algorithm(value ? value : "");
}

std::atomic<ConvAlgorithm>& algorithm_slot() {
  static std::atomic<ConvAlgorithm> slot{algorithm_from_environment()};
  return slot;
}

}  // namespace

ConvAlgorithm default_conv_algorithm() { return onednn_built() ? ConvAlgorithm::kOneDnn : ConvAlgorithm::kIm2col; }

ConvAlgorithm parse_conv_algorithm(const std::string& value) {
  if (value.empty()) return default_conv_algorithm();
  if (value == "im2col") return ConvAlgorithm::kIm2col;
  if (value == "winograd") return ConvAlgorithm::kWinograd;
  if (value == "onednn") {
    PLEURA_CHECK(onednn_built(), "PLEURA_CPU_CONV is 'onednn' but this build has no oneDNN (install libdnnl-dev and "
                                 "configure again, or choose 'im2col' or 'winograd')");
    return ConvAlgorithm::kOneDnn;
  }
  throw_error(cat("PLEURA_CPU_CONV is '", value, "', expected 'im2col', 'winograd' or 'onednn'"));
}

const char* conv_algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::kIm2col: return "im2col";
    case ConvAlgorithm::kWinograd: return "winograd";
    case ConvAlgorithm::kOneDnn: return "onednn";
  }
  return "?";
}

ConvAlgorithm conv_algorithm() { return algorithm_slot().load(); }
void set_conv_algorithm(ConvAlgorithm algorithm) { algorithm_slot().store(algorithm); }

}  // namespace pleura::cpu
