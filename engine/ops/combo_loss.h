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
// outside [0, 1] (NaN included), or mismatched shapes. `components`, when given, receives the three terms.
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

// What the backward kernel needs, per image n (host values; the kernels copy what they use):
//   grad = g * ( bce_scale * dbce/dx + (dice_a[n] - dice_b[n]*t + focal_scale * dfocal/dp) * p(1-p) )
// where g is the upstream gradient (grad_out[0]), dbce/dx = sigmoid(x) - t (1 - t at x == 0, as the
// reference's autograd gives), dfocal/dp is 0 where p' was clamped.
struct ComboBackwardCoefficients {
  double bce_scale = 0.0;      // w_bce / numel
  double focal_scale = 0.0;    // w_focal / numel
  std::vector<double> dice_a;  // per image
  std::vector<double> dice_b;  // per image
};

namespace cpu {
// sums: n_images * kComboSumCount doubles, image-major. Each image's pixels are summed in fixed blocks,
// so the result does not depend on the thread count.
void combo_loss_sums(const Tensor& logits, const Tensor& targets, int64_t n_images, std::vector<double>& sums);
void combo_loss_bwd(const Tensor& logits, const Tensor& targets, int64_t n_images,
                    const ComboBackwardCoefficients& coef, const Tensor& grad_out, Tensor& grad_logits);
}  // namespace cpu
namespace cuda {
void combo_loss_sums(const Tensor& logits, const Tensor& targets, int64_t n_images, std::vector<double>& sums);
void combo_loss_bwd(const Tensor& logits, const Tensor& targets, int64_t n_images,
                    const ComboBackwardCoefficients& coef, const Tensor& grad_out, Tensor& grad_logits);
}  // namespace cuda

}  // namespace pleura
