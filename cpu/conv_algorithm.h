// Which algorithm the CPU's float32 convolutions take (cpu/conv2d.cpp dispatches on it): im2col + OpenBLAS
// GEMM (the reference, always built), Winograd F(2x2, 3x3) (cpu/conv2d_winograd.h) or oneDNN's kernels on
// blocked channel layouts (cpu/conv2d_onednn.h, when the build found Debian's libdnnl). Implementation in
// cpu/conv_algorithm.cpp; tests in tests/ops/test_conv2d_onednn.cpp and tests/ops/test_conv2d_winograd.cpp.
#pragma once

#include <string>

namespace pleura::cpu {

// kIm2col always takes im2col + GEMM; kWinograd takes Winograd where winograd_applies(); kOneDnn takes oneDNN
// where onednn_applies(). The initial value comes from the environment variable PLEURA_CPU_CONV (im2col,
// winograd, onednn); unset, it is default_conv_algorithm(). Process-wide: set it before work starts, not
// while convolutions run.
enum class ConvAlgorithm { kIm2col, kWinograd, kOneDnn };
ConvAlgorithm conv_algorithm();
void set_conv_algorithm(ConvAlgorithm algorithm);

// oneDNN where the build has it (it is faster on every machine measured, README "Speed on the CPU"), else
// im2col.
ConvAlgorithm default_conv_algorithm();

// "" (the default), "im2col", "winograd" and "onednn" (refused, with the reason, in a build without
// oneDNN); anything else throws, naming PLEURA_CPU_CONV and the value.
ConvAlgorithm parse_conv_algorithm(const std::string& value);

// "im2col", "winograd" or "onednn": what bench_unet and the tools' logs print.
const char* conv_algorithm_name(ConvAlgorithm algorithm);

}  // namespace pleura::cpu
