// FLOP counting: while a FlopTally is open on a thread, the convolution layers record the floating-point
// operations of their forward passes (Conv2d::forward, and SCSEModule's spatial gate, which runs as the
// fused op scse_maxout). Implementation in layers/flops.cpp, tests in tests/layers/test_flops.cpp; the
// models' counts per input size in models/registry.h (model_flops).
//
// What is counted: every convolution, 2 * K * C/groups * R * S operations (a multiply and an add) per
// output element, for one image; the squeeze-and-excitation layers' fc1/fc2 are 1x1 convolutions on
// pooled [C, 1, 1] vectors, counted the same way. Left out: the bias adds, batch norm, activations,
// upsampling, pooling, concatenation and the elementwise products of the gates (memory-bound, and small:
// each is O(C * H * W) against the convolutions' O(K * C * R * S * H * W)).
#pragma once

#include <cstdint>
#include <vector>

namespace pleura {

// How a term changes with the input size: a convolution over a feature map scales with its area; one
// over a globally pooled vector (an SE gate's fc1, fc2) does not.
enum class FlopScaling { kWithArea, kConstant };

struct FlopTerm {
  int64_t flops_per_output = 0;  // 2 * K * C/groups * R * S: one output position's operations, all K channels
  int64_t out_h = 0, out_w = 0;  // the output's spatial size in the pass that was counted
  FlopScaling scaling = FlopScaling::kWithArea;
};

// Records the terms of the convolutions run on this thread while it is alive. Tallies nest: the innermost
// open one records (from outside any ConstantFlopsScope), and the one around it resumes when it closes.
class FlopTally {
 public:
  FlopTally();
  ~FlopTally();
  FlopTally(const FlopTally&) = delete;
  FlopTally& operator=(const FlopTally&) = delete;

  const std::vector<FlopTerm>& terms() const { return terms_; }

  // For the layers: adds a term when a tally is open on this thread (and does nothing otherwise).
  // K output channels, C/groups inputs per group, an R x S kernel, an output map out_h x out_w.
  static void record_conv(int64_t K, int64_t C_per_group, int64_t R, int64_t S, int64_t out_h, int64_t out_w);

 private:
  std::vector<FlopTerm> terms_;
  FlopTally* outer_;     // the tally open on this thread before this one, if any
  int outer_constant_;   // the ConstantFlopsScope depth it had
};

// The operations of one image in the pass that was counted.
int64_t flops_total(const std::vector<FlopTerm>& terms);
// The operations of one image at input size h x w, the pass having been counted at probe_h x probe_w:
// every area term's output map becomes out_h * h / probe_h by out_w * w / probe_w, which must be whole
// numbers (they are, and the count exact, when every layer's output size is a fixed fraction of the
// input's at both sizes); constant terms stay. Throws naming the term and the sizes otherwise.
int64_t flops_at(const std::vector<FlopTerm>& terms, int64_t probe_h, int64_t probe_w, int64_t h, int64_t w);

// While alive, the convolutions recorded on this thread are FlopScaling::kConstant (an SE gate's, on a
// pooled vector). Nests.
class ConstantFlopsScope {
 public:
  ConstantFlopsScope();
  ~ConstantFlopsScope();
  ConstantFlopsScope(const ConstantFlopsScope&) = delete;
  ConstantFlopsScope& operator=(const ConstantFlopsScope&) = delete;
};

}  // namespace pleura
