// The policy for cuDNN's convolution algorithms (engine/conv_algorithm_choice.h): one relaxed atomic.
#include "engine/conv_algorithm_choice.h"

#include <atomic>

#include "engine/error.h"

namespace pleura {

namespace {
std::atomic<ConvAlgorithmChoice> g_choice{ConvAlgorithmChoice::kMeasured};
}  // namespace

void set_conv_algorithm_choice(ConvAlgorithmChoice choice) { g_choice.store(choice, std::memory_order_relaxed); }
ConvAlgorithmChoice conv_algorithm_choice() { return g_choice.load(std::memory_order_relaxed); }

const char* conv_algorithm_choice_name(ConvAlgorithmChoice choice) {
  return choice == ConvAlgorithmChoice::kReproducible ? "reproducible" : "measured";
}

ConvAlgorithmChoice parse_conv_algorithm_choice(const std::string& text, const std::string& where) {
  if (text == "measured") return ConvAlgorithmChoice::kMeasured;
  if (text == "reproducible") return ConvAlgorithmChoice::kReproducible;
  throw_error(cat(where, ": cuDNN algorithm choice '", text, "' is not measured or reproducible"));
}

}  // namespace pleura
