// SavedActivation: an activation a backward node keeps until backward runs. Under the bf16 precision policy
// (engine/precision.h) it is kept as bfloat16 (engine/ops/bf16_storage.h), half the bytes, wherever that
// changes nothing the node computes: a convolution's input (the convolution computes with its bfloat16
// rounding anyway), a ReLU's output (only its sign is read, and rounding keeps the sign of everything but
// float32 values below 2^-134, which round to zero as they do in PyTorch's bfloat16 activations), and any
// tensor whose values are all bfloat16 already (TensorImpl::bf16_values: the convolutions' outputs, which
// batch norm keeps). Nodes that keep one tensor share one bfloat16 copy of it (a ReLU's output is also the
// next convolution's input), so the float32 activation is freed once the forward pass moves on, as PyTorch's
// autocast keeps its activations. float32 policy: the tensor itself, as before.
// compact_saved_activations(false), or PLEURA_SAVED_ACTIVATIONS=float32 in the environment (bf16, the default,
// or float32; anything else is an error), keeps float32 under bf16 too: tests compare the two (the same
// gradients), bench_unet's forward_held_mib and peak_mib measure the difference.
// Implementation engine/saved_activation.cpp; tests tests/engine/test_saved_activation.cpp.
#pragma once

#include <string>

#include "engine/scoped_setting.h"
#include "engine/tensor.h"

namespace pleura {

// What a backward node reads of the activation it keeps.
enum class SavedUse {
  kConvolutionInput,  // values rounded to bfloat16 under the bf16 policy: a convolution's input
  kSign,              // whether each value is positive: a ReLU's mask
  kValues,            // every value exactly
};

class SavedActivation {
 public:
  SavedActivation() = default;
  // Keeps t (float32 or any other dtype) for `use`; bf16 says whether the node's op ran under the bf16 policy.
  SavedActivation(const Tensor& t, SavedUse use, bool bf16);

  // Whether t would be kept as bfloat16.
  static bool compacts(const Tensor& t, SavedUse use, bool bf16);

  bool defined() const { return kept_.defined(); }
  bool compact() const { return kept_.defined() && kept_.dtype() == DType::kBFloat16; }
  // The activation as the node needs it: the tensor kept, or the bfloat16 copy widened to float32 (a new tensor
  // each call, freed with the caller's handle).
  Tensor get() const;
  // What is held: the tensor or its bfloat16 copy.
  const Tensor& kept() const { return kept_; }
  void reset() { kept_ = Tensor(); }

 private:
  Tensor kept_;
};

// Whether the bf16 policy keeps activations as bfloat16 (default true). Process-wide.
void set_compact_saved_activations(bool on);
bool compact_saved_activations();
// What PLEURA_SAVED_ACTIVATIONS's value asks (read at the first use): "" or "bf16" true, "float32" false;
// anything else throws, naming the variable and the values it takes.
bool parse_saved_activations(const std::string& value);
using CompactSavedActivationsScope =
    ScopedSetting<bool, compact_saved_activations, set_compact_saved_activations>;

// Whether a saved activation's bfloat16 copy of t's data is alive: t's data must then not be written over
// (engine/autograd.h's can_overwrite), or the copy a later save would share would no longer match it.
bool has_saved_bf16_copy(const Tensor& t);

}  // namespace pleura
