// The compute precision policy (engine/precision.h): one relaxed atomic.
#include "engine/precision.h"

#include <atomic>

#include "engine/error.h"

namespace pleura {

namespace {
std::atomic<Precision> g_precision{Precision::kFloat32};
}  // namespace

void set_precision(Precision p) { g_precision.store(p, std::memory_order_relaxed); }
Precision precision() { return g_precision.load(std::memory_order_relaxed); }

const char* precision_name(Precision p) { return p == Precision::kBFloat16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& text, const std::string& where) {
  if (text == "fp32") return Precision::kFloat32;
  if (text == "bf16") return Precision::kBFloat16;
  throw_error(cat(where, ": precision '", text, "' is not fp32 or bf16"));
}

}  // namespace pleura
