// scse_maxout: the fused spatial gate, both gated products and their maximum of the SCSE module (mode
// 'maxout'). CPU kernels in cpu/scse.cpp, CUDA kernels in cuda/scse.cu, tests in tests/ops/test_scse.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// x: [N, C, H, W]; channel_gate: [N, C, 1, 1], already through its sigmoid (computed by ordinary ops:
// global_avg_pool, conv2d, relu, conv2d, sigmoid); spatial_weight: [1, C, 1, 1], the 1x1 conv to one
// channel without bias. One dtype and device for all three.
// Returns max(x * channel_gate, x * sigmoid(s)) with the shape of x, s[n,h,w] = sum_c spatial_weight[c] *
// x[n,c,h,w]. Gradient of the maximum as torch.maximum (torch >= 1.7): to the larger branch, split in
// halves on ties (frequent: x = 0 after a ReLU makes both branches 0), the full gradient to both where
// either is NaN. Gradients reach x (directly and through s), channel_gate and spatial_weight.
// Differs from the reference (PyTorch float32 conv + sigmoid): s and sigmoid(s) are computed in double and
// rounded once, so the spatial gate is at least as accurate, and the CPU and CUDA gates agree bitwise.
Tensor scse_maxout(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight);

// The spatial logit's channel sum is split into kScseSlices interleaved slices (channels c with
// c % kScseSlices == k), each summed in double in increasing c, then the slices are added in order k = 0, 1,
// ... Both backends use this order (CUDA: one warp per slice), so with exact float products the double sums
// are bit-identical, and the max branch chosen at every element is the same on CPU and CUDA.
constexpr int kScseSlices = 8;

// Kernels. Arguments are checked by scse_maxout(); outputs are preallocated and fully overwritten.
// spatial_gate: [N, 1, H, W], sigmoid(s) as the forward computed it (saved for the backward).
// In scse_maxout_bwd a null pointer skips that gradient; grad_x has x's shape, grad_channel_gate
// [N, C, 1, 1], grad_spatial_weight [1, C, 1, 1]. Sums over pixels and channels are in double, in an order
// fixed by the shapes only.
namespace cpu {
void scse_maxout_fwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight, Tensor& out,
                     Tensor& spatial_gate);
void scse_maxout_bwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight,
                     const Tensor& spatial_gate, const Tensor& grad_out, Tensor* grad_x, Tensor* grad_channel_gate,
                     Tensor* grad_spatial_weight);
}  // namespace cpu
namespace cuda {
void scse_maxout_fwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight, Tensor& out,
                     Tensor& spatial_gate);
void scse_maxout_bwd(const Tensor& x, const Tensor& channel_gate, const Tensor& spatial_weight,
                     const Tensor& spatial_gate, const Tensor& grad_out, Tensor* grad_x, Tensor* grad_channel_gate,
                     Tensor* grad_spatial_weight);
}  // namespace cuda

}  // namespace pleura
