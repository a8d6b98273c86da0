// Shared model checks (tests/models/model_checks.h).
#include "tests/models/model_checks.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "layers/batchnorm.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

namespace pleura::testing {

namespace {
// The slots of the named parameters, in the order given.
std::vector<Tensor*> find_parameters(Module& model, const std::vector<std::string>& names) {
  NamedSlots all = model.named_parameters();
  std::vector<Tensor*> out;
  for (const std::string& n : names) {
    Tensor* found = nullptr;
    for (auto& [name, t] : all)
      if (name == n) found = t;
    REQUIRE_MESSAGE(found != nullptr, "no parameter named ", n);
    out.push_back(found);
  }
  return out;
}
}  // namespace

void check_output_shapes(Model& model, const std::vector<int64_t>& sizes) {
  int64_t m = model.input_multiple();
  for (int64_t s : sizes) {
    CAPTURE(s);
    model.train();
    Tensor y = model.forward(random_tensor({2, 3, s, s}, 300 + s, DType::kFloat32));
    CHECK(y.shape() == Shape{2, 1, s, s});
    NoGradGuard no_grad;
    model.eval();
    y = model.forward(random_tensor({1, 3, s, s + m}, 400 + s, DType::kFloat32));
    CHECK(y.shape() == Shape{1, 1, s, s + m});
  }
  model.train();
}

void check_size_errors(Model& model) {
  int64_t m = model.input_multiple();
  std::string multiple = "multiples of " + std::to_string(m);
  NoGradGuard no_grad;
  expect_error([&] { model.forward(Tensor::zeros({1, 3, m + m / 2, m})); },
               {std::string("[") + model.name() + "]", std::to_string(m + m / 2) + "x" + std::to_string(m), multiple});
  expect_error([&] { model.forward(Tensor::zeros({1, 3, m, 2 * m - 1})); },
               {model.name(), std::to_string(m) + "x" + std::to_string(2 * m - 1), multiple});
  expect_error([&] { model.forward(Tensor::zeros({1, 3, m / 2, m / 2})); }, {model.name(), multiple});
  expect_error([&] { model.forward(Tensor::zeros({1, 1, m, m})); }, {model.name(), "[N, 3, H, W]"});
}

// Why the check point, steps and tolerance are what they are. A central difference through a hundred
// layers meets two error sources the single-op checks (1e-6) do not:
// - kinks: a ReLU input, or a max-pool or SCSE-maxout near-tie, crossed within +-eps somewhere among the
//   ~10^6 activations (batch norm in training mode lets every parameter move all of them). A crossing
//   costs 1e-4 to 1e-2 of the gradient, whatever eps, and their number grows with eps: with steps of
//   1e-5 and 1e-4 the measured errors reached 1e-3;
// - float64 rounding of the forward, about 1e-15 of the output's magnitude divided by 2 eps: with the
//   small steps that make crossings rare (1e-6, and 1e-7 for the first conv, whose weights move every
//   activation the most) it leaves errors of 1e-7 to 2e-5 of the largest gradient (measured over three
//   samplings of elements for each model).
// No step brings both under 1e-6, so the whole-model check uses a tolerance of 1e-4, five times the
// worst error measured, and still far below what a wiring mistake gives (a wrong or missing path: O(1)).
// A gradient is a gradient at any point, so the point is also chosen to make kinks rare and gradients
// comparable:
// - every conv kaiming-normal (fan_in) with zero bias, so that all layers matter to the output (at
//   AlbuNet's default decoder initialisation its encoder gradients are 1e-7 of the largest);
// - batch-norm biases drawn in [2.5, 3.5]: the batch-normalised values that feed ReLUs sit about three
//   standard deviations from the kink (~100x fewer crossings);
// - the function checked is model(x) - model(x0), a constant offset (same gradients) that keeps
//   gradcheck's weighted output sum near zero, so that the sum's own rounding does not add noise.
// Each element is judged against the largest gradient of its tensor (floor_fraction 1.0, as in
// tests/models/test_tiny_net.cpp).
void gradcheck_model(const std::string& model_name, const std::vector<GradGroup>& groups, int64_t size,
                     int max_checks) {
  auto model = make_model(model_name, 51);
  model->to(DType::kFloat64);
  model->train();
  Rng rng(53);
  init_module(*model, [](const std::string&) { return ConvInit::kKaimingNormalFanIn; }, rng);
  for (auto& [name, m] : model->named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m))
      bn->bias().copy_from(rand_uniform(bn->bias().shape(), rng, 2.5, 3.5, DType::kFloat64));
  Tensor x = random_tensor({2, 3, size, size}, 52);
  Tensor offset;
  {
    NoGradGuard no_grad;
    std::vector<double> y0 = model->forward(x).to_vector();
    for (double& v : y0) v = -v;
    offset = Tensor::from_vector(y0, {2, 1, size, size}, DType::kFloat64);
  }
  for (const GradGroup& g : groups) {
    CAPTURE(g.eps);
    std::vector<Tensor*> slots = find_parameters(*model, g.parameters);
    // inputs: [x when the group checks it], then the parameters.
    size_t first = g.input ? 1 : 0;
    std::vector<Tensor> inputs;
    if (g.input) inputs.push_back(x);
    for (Tensor* t : slots) inputs.push_back(t->detach());
    GradCheckOptions opt;
    opt.max_checks = max_checks;
    opt.eps = g.eps;
    opt.floor_fraction = 1.0;
    opt.tolerance = kModelGradTolerance;
    opt.seed = 54;
    double worst = check_gradients(
        [&](const std::vector<Tensor>& in) {
          for (size_t k = 0; k < slots.size(); ++k) *slots[k] = in[first + k];
          return add(model->forward(g.input ? in[0] : x), offset);
        },
        inputs, opt);
    MESSAGE(model_name, " eps ", g.eps, ": largest gradient-check error ", worst);
  }
}

ModelRun run_model(const std::string& model_name, const std::vector<std::string>& parameter_names, int64_t size,
                   Device device, DType dtype) {
  auto model = make_model(model_name, 61);
  Rng rng(63);
  std::vector<BatchNorm2d*> norms;
  for (auto& [name, m] : model->named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) {
      bn->bias().copy_from(rand_uniform(bn->bias().shape(), rng, 2.5, 3.5));
      norms.push_back(bn);
    }
  model->to(dtype);
  model->to(device);
  model->train();
  std::vector<Tensor*> slots = find_parameters(*model, parameter_names);
  Tensor x = random_tensor({2, 3, size, size}, 62, dtype).to(device);
  x.set_requires_grad(true);
  Tensor logits = model->forward(x);
  Tensor w = random_tensor(logits.shape(), 64, dtype, 0.5, 1.5).to(device);
  sum(mul(logits, w)).backward();
  ModelRun run;
  run.logits = logits.detach().to(Device::cpu());
  run.grads.push_back(x.grad().to(Device::cpu()));
  for (Tensor* t : slots) run.grads.push_back(t->grad().to(Device::cpu()));
  for (BatchNorm2d* bn : norms) {
    run.running.push_back(bn->running_mean().to(Device::cpu()));
    run.running.push_back(bn->running_var().to(Device::cpu()));
  }
  return run;
}

double relative_l2(const Tensor& got, const Tensor& ref) {
  REQUIRE(got.shape() == ref.shape());
  std::vector<double> a = got.to_vector(), b = ref.to_vector();
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : (diff == 0 ? 0.0 : INFINITY);
}

// Sizing the tolerances. Over a whole network the two float32 backends differ, beyond the few ulps
// each op allows, by discrete events: a ReLU input or a max-pool / SCSE-maxout near-tie that rounds to
// the other side sends one element's gradient elsewhere. Elementwise measures of gradients are then
// meaningless (one flipped element is an O(1) error), so gradients are compared by relative L2 norm,
// which a wrong kernel (O(1)) or a wrong border or group (>= 1/64 of the elements) still fails
// clearly. As a stand-in for the CUDA backend, float32 against float64 on the CPU through this same
// run_model (batch-norm biases away from the ReLU kinks, which cut the flips ~100x) gave at 128x128,
// for albunet / resnet50_unet / scse_unet:
//   logits, parity_error:                         1.3e-3 / 4.8e-4 / 1.3e-3
//   gradients, worst relative_l2 over x and
//   every parameter:                              3.3e-6 / 3.1e-4 / 1.8e-5  (up to 6e-4 at other seeds)
//   running statistics, parity_error:             2.5e-5 / 4.0e-5 / 8.3e-5
// Two float32 backends may differ by about twice that; the tolerances keep a further margin of ~4-8x.
void check_model_parity(const std::string& model_name, const std::vector<std::string>& parameter_names, int64_t size) {
  ModelRun cpu = run_model(model_name, parameter_names, size, Device::cpu(), DType::kFloat32);
  ModelRun gpu = run_model(model_name, parameter_names, size, Device::cuda(), DType::kFloat32);
  double e = parity_error(gpu.logits, cpu.logits);
  CHECK_MESSAGE(e <= kModelParityLogitsTolerance, model_name, ": logits error ", e);
  for (size_t k = 0; k < cpu.grads.size(); ++k) {
    std::string what = k == 0 ? std::string("input") : parameter_names[k - 1];
    e = relative_l2(gpu.grads[k], cpu.grads[k]);
    CHECK_MESSAGE(e <= kModelParityGradTolerance, model_name, ": gradient of ", what, " relative L2 error ", e);
  }
  double worst = 0;
  for (size_t k = 0; k < cpu.running.size(); ++k) worst = std::max(worst, parity_error(gpu.running[k], cpu.running[k]));
  CHECK_MESSAGE(worst <= kModelParityRunningTolerance, model_name, ": running statistics error ", worst);
}

}  // namespace pleura::testing
