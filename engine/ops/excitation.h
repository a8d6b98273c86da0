// excitation: the channel gate of squeeze-and-excitation blocks after their squeeze, in one op:
// sigmoid(fc2(relu(fc1(pooled)))) with fc1, fc2 1x1 convolutions with bias (SEModule and SCSEModule,
// layers/se.h). One kernel forward and two backward on CUDA, where the composition took two cuDNN
// convolutions, their bias passes, a ReLU and a sigmoid each way. CPU kernels in cpu/excitation.cpp, CUDA
// kernels in cuda/excitation.cu, the arithmetic both share in engine/ops/excitation_math.h, tests in
// tests/ops/test_excitation.cpp.
#pragma once

#include "engine/tensor.h"

namespace pleura {

// pooled [N, C, 1, 1] (global_avg_pool's output), w1 [R, C, 1, 1], b1 [R], w2 [C, R, 1, 1], b2 [C]; one
// float dtype and device for all. Returns the gate [N, C, 1, 1]:
//   hidden[n, j] = relu(sum_c w1[j, c] pooled[n, c] + b1[j]),  gate[n, c] = sigmoid(sum_j w2[c, j] hidden[n, j] + b2[c]).
// Gradients reach all five inputs. Differs from the reference (PyTorch: two float32 convolutions, then a
// float32 sigmoid): each sum is taken in double and rounded once (hidden after its ReLU, the gate after
// its sigmoid, computed in double), so the gate is at least as accurate. Under the bf16 policy
// (engine/precision.h) it stays in float32 and double: a knowing difference from autocast, which would run
// fc1 and fc2 in bfloat16; on [N, C, 1, 1] they are a negligible share of a step's work.
Tensor excitation(const Tensor& pooled, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2);

// Kernels. Outputs are preallocated and fully overwritten. hidden [N, R] and gate [N, C] are the forward's,
// saved for the backward. In excitation_bwd a null pointer skips that gradient; the gradients have the
// shapes of their inputs. Every sum is in double in a fixed order (increasing index), so both backends give
// the same bits, up to the last bit of exp in the sigmoid.
namespace cpu {
void excitation_fwd(const Tensor& pooled, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                    Tensor& hidden, Tensor& gate);
void excitation_bwd(const Tensor& pooled, const Tensor& w1, const Tensor& w2, const Tensor& hidden,
                    const Tensor& gate, const Tensor& grad_gate, Tensor* grad_pooled, Tensor* grad_w1, Tensor* grad_b1,
                    Tensor* grad_w2, Tensor* grad_b2);
}  // namespace cpu
namespace cuda {
void excitation_fwd(const Tensor& pooled, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                    Tensor& hidden, Tensor& gate);
void excitation_bwd(const Tensor& pooled, const Tensor& w1, const Tensor& w2, const Tensor& hidden,
                    const Tensor& gate, const Tensor& grad_gate, Tensor* grad_pooled, Tensor* grad_w1, Tensor* grad_b1,
                    Tensor* grad_w2, Tensor* grad_b2);
}  // namespace cuda

}  // namespace pleura
