// combo_loss: the solution's ComboLoss, max(1e-5, w_bce*bce + w_dice*dice + w_focal*focal), fused into one
// pass for the forward sums and one for the gradient. CPU kernels in cpu/combo_loss.cpp, CUDA kernels in
// cuda/combo_loss.cu, tests in tests/ops/test_combo_loss.cpp.
#pragma once

#include <vector>

#include "engine/communicator.h"
#include "engine/tensor.h"

namespace pleura {

enum class DiceMode {
  kBatch,     // one ratio over the whole batch, as the reference (DiceLoss(per_image=False))
  kPerImage,  // mean over images (dim 0) of each image's own dice loss (the reference's per_image=True)
};

struct ComboLossParams {
  double w_bce = 3.0;
  double w_dice = 1.0;
  double w_focal = 4.0;
  DiceMode dice_mode = DiceMode::kBatch;
  // Data-parallel training: the ranks whose images together make the batch (null or one rank: this
  // process's images alone). Every rank calls combo_loss at the same step; the per-image sums are
  // gathered in rank order, so each rank gets the loss of the whole batch, computed as one process would
  // over all the images, and the gradient of that loss for its own logits (summing the ranks' parameter
  // gradients then gives the whole batch's).
  Communicator* group = nullptr;
  // true: the per-image sums come back to the host (one host read), which checks the logits and targets
  // (an error names the bad values) and fills `components`. false (the trainer, so that a GPU step never
  // waits): everything stays on the device; non-finite logits or targets outside [0, 1] then give a NaN
  // loss instead of an error (the step ledger skips and counts such a step, engine/ops/step_ledger.h).
  // A group of several ranks always takes the host path (its sums are gathered through the host).
  bool check_on_host = true;
};

// The three terms of one evaluation (before weighting), for logs, like the reference's ComboLoss.values.
struct ComboLossComponents {
  double bce = 0.0;
  double dice = 0.0;
  double focal = 0.0;
};

// logits: float32 (or float64 on the CPU), any shape with at least one element; dim 0 counts images in
// kPerImage mode (so rank >= 1 there). targets: same shape, dtype and device, values in [0, 1] (soft
// targets allowed). Returns a 0-dim tensor of the logits' dtype:
//   bce   = mean of max(x,0) - x*t + log(1 + exp(-|x|))
//   dice  = 1 - (2*sum(p*t) + 1e-6) / (sum(p) + sum(t) + 1e-6), p = sigmoid(x) (kPerImage: per image, then mean)
//   focal = mean of -(1-pt)^2 * log(pt), pt = (1-t')(1-p') + t'*p', with p' and t' clamped to
//           [1e-8, 1-1e-8] in the element type (in float32 the upper bound rounds to 1, as in the reference)
// The gradient flows to the logits only (targets are constants). Throws on non-finite logits, targets
// outside [0, 1] (NaN included) (with check_on_host; else the loss is NaN), or mismatched shapes.
// `components`, when given, receives the three terms (it needs check_on_host).
Tensor combo_loss(const Tensor& logits, const Tensor& targets, const ComboLossParams& params = {},
                  ComboLossComponents* components = nullptr);

// The per-image sums one forward pass produces, kComboSumCount doubles per image, in this order.
enum ComboSum : int {
  kSumBce = 0,     // sum of the stable BCE terms
  kSumPT,          // sum of p*t
  kSumP,           // sum of p
  kSumT,           // sum of t
  kSumFocal,       // sum of the focal terms
  kSumBadTargets,  // count of targets outside [0, 1] or NaN
  kSumNonFinite,   // count of non-finite logits
  kComboSumCount
};

// The evaluation of a forward pass from the sums: a float64 tensor on the logits' device, laid out as
// ComboResult followed by dice_a[local images] and dice_b[local images] (combo_loss_math.h fills it, on
// the host or the device):
//   grad = g * ( bce_scale * dbce/dx + (dice_a[n] - dice_b[n]*t + focal_scale * dfocal/dp) * p(1-p) )
// for `passes`, else 0, where g is the upstream gradient (grad_out[0]), dbce/dx = sigmoid(x) - t (1 - t at
// x == 0, as the reference's autograd gives), dfocal/dp is 0 where p' was clamped.
struct ComboResult {
  double loss = 0;    // max(raw, 1e-5); NaN when a logit is not finite or a target lies outside [0, 1]
  double raw = 0;     // w_bce*bce + w_dice*dice + w_focal*focal
  double bce = 0, dice = 0, focal = 0;
  double passes = 0;  // 1: the gradient flows (raw >= 1e-5 in the element type); 0: the clamp holds it
  double bad_targets = 0, nonfinite_logits = 0;  // counts over the whole batch
};
constexpr int64_t kComboResultFields = static_cast<int64_t>(sizeof(ComboResult) / sizeof(double));

// What the result is computed from: the batch's sums (n_images of them, this process's local_images from
// index first on) and the settings.
struct ComboFinish {
  int64_t n_images = 0, numel = 0, first = 0, local_images = 0;
  double w_bce = 0, w_dice = 0, w_focal = 0;
  bool per_image = false;
  bool float32 = true;  // the logits' element type (the clamp's comparison is made in it)
};

// The gradient's per-element scales, known on the host: w_bce / numel and w_focal / numel.
struct ComboBackwardScales {
  double bce_scale = 0.0;
  double focal_scale = 0.0;
};

namespace cpu {
// sums: float64 [n_images * kComboSumCount], image-major, on the logits' device. Each image's pixels are
// summed in fixed blocks, so the result does not depend on the thread count.
void combo_loss_sums(const Tensor& logits, const Tensor& targets, int64_t n_images, Tensor& sums);
// result: float64 [kComboResultFields + 2 * local_images]; loss: 0-dim, the logits' dtype.
void combo_loss_finish(const Tensor& sums, const ComboFinish& f, Tensor& result, Tensor& loss);
void combo_loss_bwd(const Tensor& logits, const Tensor& targets, int64_t n_images, const ComboBackwardScales& scales,
                    const Tensor& result, const Tensor& grad_out, Tensor& grad_logits);
}  // namespace cpu
namespace cuda {
void combo_loss_sums(const Tensor& logits, const Tensor& targets, int64_t n_images, Tensor& sums);
void combo_loss_finish(const Tensor& sums, const ComboFinish& f, Tensor& result, Tensor& loss);
void combo_loss_bwd(const Tensor& logits, const Tensor& targets, int64_t n_images, const ComboBackwardScales& scales,
                    const Tensor& result, const Tensor& grad_out, Tensor& grad_logits);
}  // namespace cuda

}  // namespace pleura
