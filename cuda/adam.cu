// CUDA kernels of adam_step and adam_multi_step (engine/ops/adam.h); twin: cpu/adam.cpp. Same arithmetic,
// same order; the _rn intrinsics keep nvcc from fusing multiplies and adds into FMAs, so both backends
// round alike. adam_multi_step works on lists of parameters (cuda/multi_tensor.cuh): per list, one
// one-block launch advances the step counters, one launch updates every chunk of every parameter, each
// block computing its parameter's bias corrections from the counter (engine/ops/adam_math.h).
#include <array>
#include <cmath>

#include "cuda/launch.h"
#include "cuda/multi_tensor.cuh"
#include "engine/ops/adam.h"
#include "engine/ops/adam_math.h"
#include "engine/ops/step_ledger.h"

namespace pleura::cuda {

namespace {

// The float constants of an update that do not depend on the step.
struct AdamFloats {
  float wd, b1, one_minus_b1, b2, one_minus_b2, eps;
};

AdamFloats floats_of(double weight_decay, double beta1, double beta2, double eps) {
  // Same float constants as the CPU kernel (which rounds the same doubles).
  return {static_cast<float>(weight_decay), static_cast<float>(beta1),       1.f - static_cast<float>(beta1),
          static_cast<float>(beta2),        1.f - static_cast<float>(beta2), static_cast<float>(eps)};
}

__device__ inline void update_element(float* p, const float* g, float* m, float* v, int64_t i, const AdamFloats& c,
                                      float scale, float step_size, float root_bc2) {
  float gi = __fadd_rn(__fmul_rn(g[i], scale), __fmul_rn(c.wd, p[i]));
  float mi = __fadd_rn(__fmul_rn(c.b1, m[i]), __fmul_rn(c.one_minus_b1, gi));
  float vi = __fadd_rn(__fmul_rn(c.b2, v[i]), __fmul_rn(__fmul_rn(c.one_minus_b2, gi), gi));
  float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), root_bc2), c.eps);
  m[i] = mi;
  v[i] = vi;
  p[i] = __fsub_rn(p[i], __fmul_rn(step_size, __fdiv_rn(mi, denom)));
}

__global__ void adam_step_kernel(float* p, const float* g, float* m, float* v, int64_t n, AdamFloats c, float scale,
                                 float step_size, float root_bc2) {
  PLEURA_KERNEL_LOOP(i, n) { update_element(p, g, m, v, i, c, scale, step_size, root_bc2); }
}


__device__ inline bool applies(const double* ledger) {
  return reinterpret_cast<const StepLedger*>(ledger)->apply != 0.0;
}

__global__ void advance_steps_kernel(double* steps, TensorList<4> list, const double* ledger) {
  if (!applies(ledger)) return;
  if (static_cast<int>(threadIdx.x) < list.count) steps[list.index[threadIdx.x]] += 1.0;
}

__global__ void adam_multi_kernel(TensorList<4> list, const double* steps, const double* ledger, AdamFloats c,
                                  double lr, double beta1, double beta2) {
  if (!applies(ledger)) return;
  __shared__ float step_size, root_bc2, scale;
  const int t = list_tensor_of(list, static_cast<int>(blockIdx.x));
  if (threadIdx.x == 0) {
    const int64_t step = static_cast<int64_t>(steps[list.index[t]]);
    step_size = static_cast<float>(adam_math::step_size(lr, beta1, step));
    root_bc2 = static_cast<float>(adam_math::root_bias_correction2(beta2, step));
    scale = static_cast<float>(reinterpret_cast<const StepLedger*>(ledger)->grad_scale);
  }
  __syncthreads();
  const int64_t begin = (static_cast<int64_t>(blockIdx.x) - list.first_chunk[t]) * kChunkElements;
  const int64_t end = min(list.numel[t], begin + kChunkElements);
  float* p = static_cast<float*>(list.data[0][t]);
  const float* g = static_cast<const float*>(list.data[1][t]);
  float* m = static_cast<float*>(list.data[2][t]);
  float* v = static_cast<float*>(list.data[3][t]);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) update_element(p, g, m, v, i, c, scale, step_size, root_bc2);
}

}  // namespace

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s) {
  int64_t n = param.numel();
  if (n == 0) return;
  int dev = param.device().index;
  DeviceGuard guard(dev);
  const AdamFloats c = floats_of(s.weight_decay, s.beta1, s.beta2, s.eps);
  const float step_size = static_cast<float>(adam_math::step_size(s.lr, s.beta1, s.step));
  const float root_bc2 = static_cast<float>(adam_math::root_bias_correction2(s.beta2, s.step));
  adam_step_kernel<<<grid_for(n), kBlockThreads, 0, stream(dev)>>>(
      param.data<float>(), grad.data<float>(), exp_avg.data<float>(), exp_avg_sq.data<float>(), n, c,
      static_cast<float>(s.grad_scale), step_size, root_bc2);
  PLEURA_CUDA_LAUNCH_CHECK();
}

void adam_multi_step(AdamTensors& t, Tensor& steps, const Tensor& ledger, const AdamHyper& h) {
  if (t.params.empty()) return;
  const int dev = ledger.device().index;
  DeviceGuard guard(dev);
  std::vector<std::array<void*, 4>> data;
  std::vector<int64_t> numel;
  for (size_t i = 0; i < t.params.size(); ++i) {
    data.push_back({t.params[i].raw(), t.grads[i].raw(), t.exp_avgs[i].raw(), t.exp_avg_sqs[i].raw()});
    numel.push_back(t.params[i].numel());
  }
  const AdamFloats c = floats_of(h.weight_decay, h.beta1, h.beta2, h.eps);
  for_each_list<4>(data, numel, [&](const TensorList<4>& positions) {
    TensorList<4> list = positions;
    for (int k = 0; k < list.count; ++k) list.index[k] = static_cast<int32_t>(t.step_slots[list.index[k]]);
    advance_steps_kernel<<<1, kListTensors, 0, stream(dev)>>>(steps.data<double>(), list, ledger.data<double>());
    PLEURA_CUDA_LAUNCH_CHECK();
    adam_multi_kernel<<<list.first_chunk[list.count], kBlockThreads, 0, stream(dev)>>>(
        list, steps.data<double>(), ledger.data<double>(), c, h.lr, h.beta1, h.beta2);
    PLEURA_CUDA_LAUNCH_CHECK();
  });
}

}  // namespace pleura::cuda
