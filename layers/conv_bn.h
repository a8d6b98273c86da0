// A convolution and the batch norm after it, for inference: fold_batch_norms() folds each BatchNorm2d into
// the Conv2d before it (the convolution's weight scaled per output channel, a bias added), as ONNX Runtime and
// TensorRT do, so that inference makes one pass over each activation where it made three (convolution,
// batch norm, ReLU, the ReLU fused by conv2d_relu). conv_bn_relu() is what the residual blocks run: the
// folded convolution when the pair is folded, else the convolution, then the batch norm with the residual
// sum and the ReLU in its normalising pass (batch_norm2d_relu). Implementation in
// layers/conv_bn.cpp, tests in tests/layers/test_conv_bn_fold.cpp.
#pragma once

#include "layers/batchnorm.h"
#include "layers/conv.h"

namespace pleura {

// relu(bn(conv(x)) + residual) (residual optional, of the output's shape). (Without a ReLU, bn.forward(
// conv.forward(x)) needs nothing more: a folded batch norm's forward returns its input.)
Tensor conv_bn_relu(Conv2d& conv, BatchNorm2d& bn, const Tensor& x, const Tensor& residual = Tensor());

// Folds every BatchNorm2d of `model` that is registered right after a Conv2d of its channel count, in the same
// parent module (the convolution that feeds it, in every model here: torchvision's and Cadene's ResNets
// register each convolution just before its batch norm; tests check every model's folded output against the
// unfolded one). The model must be in eval mode, on its final device; folded layers then refuse training mode.
// The parameters and buffers are left as they are. Computed in float64:
//   s = weight_bn / sqrt(running_var + eps);  w' = w * s (per output channel);  b' = (b - running_mean) * s + bias_bn
// The folded output differs from the unfolded one by float rounding only (a few ulps of the activations).
// Returns how many batch norms were folded (a second call folds none).
int fold_batch_norms(Module& model);

}  // namespace pleura
