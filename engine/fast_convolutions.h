// The engine's policy for inference's convolutions: exact (the default: the algorithms training uses, within
// float32's rounding of the convolution), or fast, where a backend may take an algorithm with a larger but
// documented rounding: on the CPU, Winograd F(4x4,3x3) for 3x3 stride-1 convolutions
// (cpu/conv2d_winograd_f4.h: within 5e-5 of each layer's largest output). Set by the inference tools for
// their run (infer_unet unless --exact-convolutions, bench_unet --infer-only); training never sets it.
// Process-wide; PLEURA_INFER_WINOGRAD=0 in the environment keeps it exact whatever a tool asks.
// Implementation in engine/fast_convolutions.cpp; tests in tests/ops/test_conv2d_winograd_f4.cpp.
#pragma once

#include "engine/device.h"
#include "engine/scoped_setting.h"

namespace pleura {

void set_fast_inference_convolutions(bool on);
bool fast_inference_convolutions();

// Sets the policy for its scope, restoring the previous one after.
using FastInferenceConvolutionsScope =
    ScopedSetting<bool, fast_inference_convolutions, set_fast_inference_convolutions>;

// True when, with the policy on, convolutions on `device` take a fast algorithm on this machine (for logs
// and tests): the CPU's when cpu::fast_inference_convolutions_available(), never CUDA's (yet).
bool fast_inference_convolutions_run_on(Device device);

namespace cpu {
// The CPU backend's answer (cpu/conv2d_winograd_f4.cpp): this CPU takes the Winograd F(4x4,3x3) kernels.
bool fast_inference_convolutions_available();
}  // namespace cpu

}  // namespace pleura
