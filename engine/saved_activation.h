// SavedActivation: an activation a backward node keeps until backward runs. Under the bf16 precision policy
// (engine/precision.h) it is kept as bfloat16 (engine/ops/bf16_storage.h), half the bytes, wherever that
// changes nothing the node computes: a convolution's input (the convolution computes with its bfloat16
// rounding anyway), a ReLU's output (only its sign is read, and rounding keeps the sign of everything but
// float32 values below 2^-134, which round to zero as they do in PyTorch's bfloat16 activations), and any
// tensor whose values are all bfloat16 already (TensorImpl::bf16_values: the convolutions' outputs, which
// batch norm keeps). Nodes that keep one tensor share one bfloat16 copy of it (a ReLU's output is also the
// next convolution's input), so the float32 activation is freed once the forward pass moves on, as PyTorch's
// autocast keeps its activations. float32 policy: the tensor itself, as before.
// Recomputed activations: where the op that made a tensor can make it again, the same bits, from what backward
// keeps anyway (a batch norm's output, without a residual sum, from the batch norm's kept input and its
// statistics: engine/ops/batch_norm.cpp), it registers a recipe for it (register_recipe), and a node keeping
// the tensor keeps the recipe instead, under either policy: the tensor is freed once the forward pass moves
// on, and backward computes it again when it runs (under bf16 as the bfloat16 copy of a convolution's input or
// a ReLU's sign, exactly as that copy would have been; otherwise as it was).
// compact_saved_activations(false), or PLEURA_SAVED_ACTIVATIONS=float32 in the environment (bf16, the default,
// or float32; anything else is an error), keeps float32 under bf16 too, and every tensor itself (no recipes)
// under either policy: tests compare the two (the same gradients), bench_unet's forward_held_mib and peak_mib
// measure the difference.
// Implementation engine/saved_activation.cpp; tests tests/engine/test_saved_activation.cpp.
#pragma once

#include <memory>
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

// How an activation is computed again (see above).
class ActivationRecipe {
 public:
  virtual ~ActivationRecipe() = default;
  // A new float32 tensor of the activation's shape and device, the same bits as the activation.
  virtual Tensor recompute() const = 0;
  virtual Device device() const = 0;
};

// Registers `recipe` for t (a float32 tensor just made by the caller's op, which records a backward node under
// the bf16 policy with compaction on): nodes keeping t (or a view of its shape) keep the recipe. Remembered,
// per thread, while t's storage and the recipe live; the caller's backward node owns the recipe (so that
// what it holds is freed with that node) and the nodes that take it share it.
void register_recipe(const Tensor& t, const std::shared_ptr<const ActivationRecipe>& recipe);
// Forgets t's recipe: its data is being written over (Tensor::copy_from).
void forget_recipe(const Tensor& t);

class SavedActivation {
 public:
  SavedActivation() = default;
  // Keeps t (float32 or any other dtype) for `use`; bf16 says whether the node's op ran under the bf16 policy.
  SavedActivation(const Tensor& t, SavedUse use, bool bf16);

  // Whether t would be kept as bfloat16.
  static bool compacts(const Tensor& t, SavedUse use, bool bf16);
  // Whether a node keeping t would keep its recipe, were one registered (t float32, compaction on; either
  // policy): what an op checks before it registers one.
  static bool may_recompute(const Tensor& t);

  bool defined() const { return kept_.defined() || recipe_ != nullptr; }
  bool compact() const { return kept_.defined() && kept_.dtype() == DType::kBFloat16; }
  // Whether a recipe is kept instead of the tensor.
  bool recomputed() const { return recipe_ != nullptr; }
  Device device() const { return recipe_ ? recipe_->device() : kept_.device(); }
  // The activation as the node needs it: the tensor kept, or the bfloat16 copy widened to float32 (a new tensor
  // each call, freed with the caller's handle); from a recipe, computed now (rounded to bfloat16 values for a
  // convolution's input or a ReLU's sign, as the copy is).
  Tensor get() const;
  // The tensor or its bfloat16 copy; from a recipe, computed now, as that copy (or, for kValues, the tensor).
  Tensor kept() const;
  void reset() {
    kept_ = Tensor();
    recipe_ = nullptr;
  }

 private:
  Tensor kept_;
  std::shared_ptr<const ActivationRecipe> recipe_;
  bool as_bf16_copy_ = false;  // a recipe's result is given as the bfloat16 copy the node would have kept
};

// Whether the bf16 policy keeps activations as bfloat16 (default true). Process-wide.
void set_compact_saved_activations(bool on);
bool compact_saved_activations();
// What PLEURA_SAVED_ACTIVATIONS's value asks (read at the first use): "" or "bf16" true, "float32" false;
// anything else throws, naming the variable and the values it takes.
bool parse_saved_activations(const std::string& value);
using CompactSavedActivationsScope =
    ScopedSetting<bool, compact_saved_activations, set_compact_saved_activations>;

// Whether a saved activation's bfloat16 copy of t's data is alive, or a recipe for t is registered: t's data
// must then not be written over (engine/autograd.h's can_overwrite), or the copy a later save would share, or
// the recipe, would no longer match it.
bool has_saved_bf16_copy(const Tensor& t);

}  // namespace pleura
