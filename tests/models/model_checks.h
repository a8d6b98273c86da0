// Checks shared by the three model test files (tests/models/test_*.cpp): output shapes, the input-size
// error, the float64 whole-model gradient check and CPU-vs-CUDA parity of forward and backward.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"
#include "models/registry.h"

namespace pleura::testing {

// For each size s: a forward of a [2, 3, s, s] batch (training mode) and of [1, 3, s, s + m] (eval mode,
// non-square), m = input_multiple(), give logits [N, 1, H, W].
void check_output_shapes(Model& model, const std::vector<int64_t>& sizes);

// Sizes that are not multiples of input_multiple() throw an error naming the model, size and multiple.
void check_size_errors(Model& model);

// One call of the float64 gradient check: the named parameters (and the input when `input` is set),
// with central differences of step `eps`.
struct GradGroup {
  double eps;
  bool input;
  std::vector<std::string> parameters;
};

// Tolerance of the whole-model gradient check (sized in model_checks.cpp; single ops use 1e-6).
inline constexpr double kModelGradTolerance = 1e-4;

// Float64 central-difference check of the whole model, batch norm in training mode, input
// [2, 3, size, size]: max_checks sampled elements of each tensor of each group. See model_checks.cpp
// for the check point (batch-norm biases shifted away from the ReLU kinks) and the choice of steps.
void gradcheck_model(const std::string& model_name, const std::vector<GradGroup>& groups, int64_t size,
                     int max_checks);

// One forward and backward of a model for the parity check: training mode, input [2, 3, size, size]
// from a fixed seed, loss sum(logits * w) with fixed weights w in [0.5, 1.5], weights from a fixed
// seed with batch-norm biases drawn in [2.5, 3.5] (see model_checks.cpp). Results copied to the CPU.
struct ModelRun {
  Tensor logits;
  std::vector<Tensor> grads;     // of the input, then of each named parameter
  std::vector<Tensor> running;   // running_mean and running_var of every batch norm, in order
};
ModelRun run_model(const std::string& model_name, const std::vector<std::string>& parameter_names, int64_t size,
                   Device device, DType dtype);

// ||got - ref||_2 / ||ref||_2.
double relative_l2(const Tensor& got, const Tensor& ref);

// Tolerances of check_model_parity, sized in model_checks.cpp: logits and running statistics by
// parity_error (elementwise, floor 1e-3 of the largest), gradients by relative_l2.
inline constexpr double kModelParityLogitsTolerance = 1e-2;
inline constexpr double kModelParityRunningTolerance = 1e-3;
inline constexpr double kModelParityGradTolerance = 5e-3;

// CPU vs CUDA (float32, strict FP32 math) of run_model: logits, running statistics, and the gradients
// of the input and of the named parameters.
void check_model_parity(const std::string& model_name, const std::vector<std::string>& parameter_names, int64_t size);

}  // namespace pleura::testing
