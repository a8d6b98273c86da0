// FlopTally and ConstantFlopsScope (layers/flops.h); tests in tests/layers/test_flops.cpp.
#include "layers/flops.h"

#include "engine/error.h"

namespace pleura {

namespace {
thread_local FlopTally* open_tally = nullptr;
thread_local int constant_depth = 0;
}  // namespace

FlopTally::FlopTally() : outer_(open_tally), outer_constant_(constant_depth) {
  open_tally = this;
  constant_depth = 0;
}

FlopTally::~FlopTally() {
  open_tally = outer_;
  constant_depth = outer_constant_;
}

int64_t flops_total(const std::vector<FlopTerm>& terms) {
  int64_t sum = 0;
  for (const FlopTerm& t : terms) sum += t.flops_per_output * t.out_h * t.out_w;
  return sum;
}

int64_t flops_at(const std::vector<FlopTerm>& terms, int64_t probe_h, int64_t probe_w, int64_t h, int64_t w) {
  PLEURA_CHECK(probe_h >= 1 && probe_w >= 1 && h >= 1 && w >= 1, "[flops_at] sizes must be positive: probe ",
               probe_h, "x", probe_w, ", wanted ", h, "x", w);
  int64_t sum = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    const FlopTerm& t = terms[i];
    if (t.scaling == FlopScaling::kConstant) {
      sum += t.flops_per_output * t.out_h * t.out_w;
      continue;
    }
    PLEURA_CHECK((t.out_h * h) % probe_h == 0 && (t.out_w * w) % probe_w == 0, "[flops_at] term ", i, " (output ",
                 t.out_h, "x", t.out_w, " at input ", probe_h, "x", probe_w, ") has no whole output size at input ", h,
                 "x", w, ": expected sizes that keep every layer's output a whole fraction of the input");
    sum += t.flops_per_output * (t.out_h * h / probe_h) * (t.out_w * w / probe_w);
  }
  return sum;
}

void FlopTally::record_conv(int64_t K, int64_t C_per_group, int64_t R, int64_t S, int64_t out_h, int64_t out_w) {
  if (open_tally == nullptr) return;
  open_tally->terms_.push_back({2 * K * C_per_group * R * S, out_h, out_w,
                                constant_depth > 0 ? FlopScaling::kConstant : FlopScaling::kWithArea});
}

ConstantFlopsScope::ConstantFlopsScope() { ++constant_depth; }
ConstantFlopsScope::~ConstantFlopsScope() { --constant_depth; }

}  // namespace pleura
