// Tests of combo_loss (engine/ops/combo_loss.h): a worked example, the reference's golden values and
// gradients (tests/fixtures/reference/loss), the 1e-5 clamp, float64 gradient checks, thread-count
// determinism, the device path (check_on_host = false) equal to the host path with no host read,
// CPU-vs-CUDA parity, bad input.
#include <cmath>
#include <fstream>
#include <limits>
#include <tuple>

#include <nlohmann/json.hpp>

#include "engine/counters.h"
#include "engine/parallel.h"
#include "engine/npy.h"
#include "engine/ops/combo_loss.h"
#include "tests/gradcheck.h"
#include "tests/parity.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

const std::string kGoldenDir = std::string(PLEURA_FIXTURES_DIR) + "/reference/loss/";

// One (case, weights) entry of summary.json.
struct Golden {
  int case_index = 0;
  double w_bce = 0, w_dice = 0, w_focal = 0;
  double loss = 0;  // the reference's float32 value, from its exact hex form
  double bce = 0, dice = 0, focal = 0;
  std::string grad_file;
};

// The entries of summary.json: cases[].results[] (weights [bce, dice, focal], loss_hex, components,
// grad_file).
std::vector<Golden> read_golden() {
  std::ifstream in(kGoldenDir + "summary.json");
  REQUIRE_MESSAGE(in.good(), "cannot open ", kGoldenDir, "summary.json");
  const nlohmann::json summary = nlohmann::json::parse(in);
  std::vector<Golden> out;
  for (const nlohmann::json& c : summary.at("cases")) {
    for (const nlohmann::json& r : c.at("results")) {
      Golden g;
      g.case_index = c.at("case").get<int>();
      const nlohmann::json& w = r.at("weights");
      REQUIRE(w.size() == 3);
      g.w_bce = w[0].get<double>();
      g.w_dice = w[1].get<double>();
      g.w_focal = w[2].get<double>();
      g.loss = std::strtod(r.at("loss_hex").get<std::string>().c_str(), nullptr);  // hex float, exact
      const nlohmann::json& parts = r.at("components");
      g.bce = parts.at("bce").get<double>();
      g.dice = parts.at("dice").get<double>();
      g.focal = parts.at("focal").get<double>();
      g.grad_file = r.at("grad_file").get<std::string>();
      CHECK(g.grad_file == cat("case", g.case_index, "_w", w[0].dump(), "-", w[1].dump(), "-", w[2].dump(), "_grad.npy"));
      out.push_back(g);
    }
  }
  return out;
}

// |a - b| <= rtol * |b| + atol for the three components.
void check_components(const ComboLossComponents& c, const Golden& g, const std::string& what) {
  // 1e-6 relative: the reference sums in float32 (its components are ~1e-7 from float64 recomputations);
  // 1e-9 absolute: case 4's float32 terms round to 0 where ours are ~2e-11.
  for (auto [got, want, name] :
       {std::tuple{c.bce, g.bce, std::string("bce")}, std::tuple{c.dice, g.dice, std::string("dice")},
        std::tuple{c.focal, g.focal, std::string("focal")}})
    CHECK_MESSAGE(std::fabs(got - want) <= 1e-6 * std::fabs(want) + 1e-9, what, " ", name, ": got ", got,
                  ", reference ", want);
}

// Runs every golden entry on `device`: value, components and d loss / d logits.
void check_golden_on(Device device) {
  std::vector<Golden> entries = read_golden();
  REQUIRE(entries.size() == 15);  // 5 cases x 3 weight triples
  for (const Golden& g : entries) {
    std::string what = "case " + std::to_string(g.case_index) + " weights " + g.grad_file;
    Tensor logits = read_npy(kGoldenDir + "case" + std::to_string(g.case_index) + "_logits.npy").to(device);
    Tensor targets = read_npy(kGoldenDir + "case" + std::to_string(g.case_index) + "_targets.npy").to(device);
    Tensor grad_ref = read_npy(kGoldenDir + g.grad_file);
    logits.set_requires_grad(true);
    ComboLossComponents c;
    Tensor loss = combo_loss(logits, targets, {g.w_bce, g.w_dice, g.w_focal, DiceMode::kBatch}, &c);
    CHECK(loss.dtype() == DType::kFloat32);
    // 1e-6 relative: the brief's bound on the value (ours is within ~2e-7 of the reference on every entry).
    CHECK_MESSAGE(std::fabs(loss.item() - g.loss) <= 1e-6 * g.loss, what, ": loss ", loss.item(), ", reference ",
                  g.loss);
    check_components(c, g, what);
    loss.backward();
    // 1e-5 relative to each element, with a floor of 1e-3 of the largest gradient: the reference's float32
    // gradient adds three terms that nearly cancel on some pixels, where its own rounding is ~1e-7 of the
    // terms rather than of the sum. Case 4 (clamped at 1e-5) must be exactly zero.
    double err = parity_error(logits.grad().to(Device::cpu()), grad_ref);
    CHECK_MESSAGE(err <= 1e-5, what, ": gradient error ", err);
  }
}

Tensor combo_fn(const std::vector<Tensor>& in, const ComboLossParams& params) {
  return combo_loss(in[0], in[1], params);
}

}  // namespace

TEST_CASE("combo_loss: worked example, value and gradient") {
  // logits (ln 3, -ln 3) give p = (3/4, 1/4); targets (1, 0); weights (1, 1, 1); N = 2.
  //   bce   = -ln(3/4) for both pixels                         = 0.2876820724517809
  //   dice  = 1 - (2*0.75 + 1e-6) / (0.75 + 0.25 + 1 + 1e-6)   = 0.2499998750000626
  //   focal: pt = 3/4 for both (t' = 1 and 1e-8: 1 - 1e-8 is 1 in float32, and 0.75 + 2.5e-9 rounds to 0.75)
  //          (1/4)^2 * -ln(3/4)                                 = 0.017980129528236306
  //   loss = 0.5556620769800799 (and 1.1849666104683505 with weights (3, 1, 4))
  // Gradient (python, same formulas): bce (p - t)/N, dice ((2I+eps) - 2t(S+eps))/(S+eps)^2 * p(1-p),
  // focal (2(1-pt) ln pt - (1-pt)^2/pt) * (t' - (1 - t')) * p(1-p)/N:
  //   -0.2634850268337182, 0.2166100734957071
  double ln3 = std::log(3.0);
  Tensor logits = Tensor::from_vector({ln3, -ln3}, {1, 1, 1, 2});
  Tensor targets = Tensor::from_vector({1, 0}, {1, 1, 1, 2});
  logits.set_requires_grad(true);
  ComboLossComponents c;
  Tensor loss = combo_loss(logits, targets, {1, 1, 1, DiceMode::kBatch}, &c);
  // 1e-6: p is the float32 sigmoid of float32(ln 3), a few ulps from 3/4.
  CHECK(std::fabs(loss.item() - 0.5556620769800799) <= 1e-6 * 0.5556620769800799);
  CHECK(std::fabs(c.bce - 0.2876820724517809) <= 1e-6);
  CHECK(std::fabs(c.dice - 0.2499998750000626) <= 1e-6);
  CHECK(std::fabs(c.focal - 0.017980129528236306) <= 1e-6);
  loss.backward();
  expect_close(logits.grad(), Tensor::from_vector({-0.2634850268337182, 0.2166100734957071}, {1, 1, 1, 2}), 1e-6, 0.0,
               "combo_loss worked gradient");
  Tensor loss314 = combo_loss(logits.detach(), targets, {3, 1, 4, DiceMode::kBatch});
  CHECK(std::fabs(loss314.item() - 1.1849666104683505) <= 1e-6 * 1.1849666104683505);
}

TEST_CASE("combo_loss: at a logit of exactly 0 the BCE gradient is 1 - t, as the reference's autograd gives") {
  // max(x, 0) - x*t + log(1 + exp(-|x|)): PyTorch's clamp(min=0) passes gradient 1 at x = 0 and abs has
  // gradient sign(0) = 0, so d/dx = 1 - t there instead of sigmoid(0) - t = 1/2 - t. Weights (1, 0, 0), N = 2:
  // gradients (1 - 0.25)/2 and (sigmoid(1) - 0.25)/2 = (0.7310585786300049 - 0.25)/2.
  Tensor logits = Tensor::from_vector({0.0, 1.0}, {2}, DType::kFloat64);
  logits.set_requires_grad(true);
  combo_loss(logits, Tensor::from_vector({0.25, 0.25}, {2}, DType::kFloat64), {1, 0, 0, DiceMode::kBatch}).backward();
  expect_close(logits.grad(), Tensor::from_vector({0.375, (0.7310585786300049 - 0.25) / 2}, {2}, DType::kFloat64),
               1e-14, 0.0, "bce gradient at 0");
}

TEST_CASE("combo_loss: per-image dice is the mean of each image's dice loss") {
  // Image 0: p = (3/4, 1/4), t = (1, 0): dice0 = 1 - 1.500001/2.000001. Image 1: p = (1/4, 1/4), t = (0, 0):
  // dice1 = 1 - 1e-6/(0.5 + 1e-6). Batch mode pools them: 1 - (1.5 + 1e-6)/(1.5 + 1 + 1e-6).
  double ln3 = std::log(3.0);
  Tensor logits = Tensor::from_vector({ln3, -ln3, -ln3, -ln3}, {2, 1, 1, 2});
  Tensor targets = Tensor::from_vector({1, 0, 0, 0}, {2, 1, 1, 2});
  ComboLossComponents per_image, batch;
  combo_loss(logits, targets, {0, 1, 0, DiceMode::kPerImage}, &per_image);
  combo_loss(logits, targets, {0, 1, 0, DiceMode::kBatch}, &batch);
  double dice0 = 1 - 1.500001 / 2.000001, dice1 = 1 - 1e-6 / (0.5 + 1e-6);
  CHECK(std::fabs(per_image.dice - (dice0 + dice1) / 2) <= 1e-6);
  CHECK(std::fabs(batch.dice - (1 - 1.500001 / 2.500001)) <= 1e-6);
}

TEST_CASE("combo_loss: the reference's golden values and gradients (float32, CPU)") { check_golden_on(Device::cpu()); }

TEST_CASE("combo_loss: below the 1e-5 clamp the value is 1e-5 and the gradient zero") {
  // Targets all 1 and logits 30: p = 1 in float32, every term is 0 (bce ~1e-13), the clamp holds.
  Tensor logits = Tensor::full({2, 1, 3, 3}, 30.0);
  logits.set_requires_grad(true);
  Tensor loss = combo_loss(logits, Tensor::ones({2, 1, 3, 3}));
  CHECK(loss.item() == static_cast<double>(1e-5f));
  loss.backward();
  for (double g : logits.grad().to_vector()) CHECK(g == 0.0);
}

namespace {

// Value and gradient bits of one evaluation.
std::pair<std::vector<double>, std::vector<double>> evaluate(const Tensor& x, const Tensor& t, ComboLossParams p) {
  Tensor logits = x.detach().clone();
  logits.set_requires_grad(true);
  Tensor loss = combo_loss(logits, t, p);
  loss.backward();
  return {loss.to_vector(), logits.grad().to_vector()};
}

void check_device_path_equals_host_path(Device device) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    if (device.is_cuda() && dtype == DType::kFloat64) continue;
    for (DiceMode mode : {DiceMode::kBatch, DiceMode::kPerImage}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(mode == DiceMode::kBatch);
      // Odd sizes, soft targets; and a saturated batch under the 1e-5 clamp.
      const Tensor x = random_tensor({3, 1, 37, 29}, 51, dtype, -4, 4).to(device);
      const Tensor t = random_tensor({3, 1, 37, 29}, 52, dtype, 0, 1).to(device);
      const Tensor big = Tensor::full({2, 1, 5, 5}, 30.0, dtype).to(device);
      const Tensor ones = Tensor::ones({2, 1, 5, 5}, dtype).to(device);
      for (const auto& [logits, targets] : {std::pair{x, t}, std::pair{big, ones}}) {
        ComboLossParams host{3, 1, 4, mode}, on_device = host;
        on_device.check_on_host = false;
        CHECK(evaluate(logits, targets, on_device) == evaluate(logits, targets, host));
      }
    }
  }
}

}  // namespace

TEST_CASE("combo_loss: the device path gives the host path's bits and reads nothing back") {
  check_device_path_equals_host_path(Device::cpu());
  const Tensor x = random_tensor({2, 1, 16, 16}, 53, DType::kFloat32, -4, 4);
  const Tensor t = random_tensor({2, 1, 16, 16}, 54, DType::kFloat32, 0, 1);
  ComboLossParams p;
  p.check_on_host = false;
  EngineCounters before = engine_counters();
  Tensor loss = combo_loss(x, t, p);
  CHECK(counters_between(before, engine_counters()).host_reads == 0);
  before = engine_counters();
  combo_loss(x, t);  // the host path reads the sums once
  CHECK(counters_between(before, engine_counters()).host_reads == 1);
  ComboLossComponents c;
  expect_error([&] { combo_loss(x, t, p, &c); }, {"[combo_loss]", "components need check_on_host"});
}

TEST_CASE("combo_loss: on the device path non-finite logits or bad targets give a NaN loss, not an error") {
  ComboLossParams p;
  p.check_on_host = false;
  std::vector<double> l = random_tensor({2, 1, 4, 4}, 55).to_vector();
  l[5] = std::numeric_limits<double>::infinity();
  const Tensor t = random_tensor({2, 1, 4, 4}, 56, DType::kFloat32, 0, 1);
  CHECK(std::isnan(combo_loss(Tensor::from_vector(l, {2, 1, 4, 4}), t, p).item()));
  CHECK(std::isnan(combo_loss(random_tensor({2, 1, 4, 4}, 57, DType::kFloat32), Tensor::full({2, 1, 4, 4}, 1.5), p).item()));
  CHECK(std::isfinite(combo_loss(random_tensor({2, 1, 4, 4}, 57, DType::kFloat32), t, p).item()));
}

TEST_CASE("combo_loss: float64 gradient checks away from the clamps") {
  // Logits in [-3, 3] keep p inside [0.047, 0.953], far from the focal clamps [1e-8, 1 - 1e-8], and the
  // loss far above 1e-5. Targets are constants of the function (they get no gradient).
  // eps 1e-5: the loss is an O(1) sum over every element, so its float64 rounding (~1e-15) divided by 2 eps
  // is ~5e-10 at eps = 1e-6, a few 1e-6 of the smallest gradients (~3e-4); at 1e-5 that noise is ten times
  // smaller and the truncation error (eps^2 f'''(x) / 6, ~1e-11) stays negligible.
  GradCheckOptions opt;
  opt.eps = 1e-5;
  Tensor logits = random_tensor({2, 1, 4, 5}, 11, DType::kFloat64, -3.0, 3.0);
  Tensor soft = random_tensor({2, 1, 4, 5}, 12, DType::kFloat64, 0.0, 1.0);
  std::vector<double> b = random_tensor({2, 1, 4, 5}, 13, DType::kFloat64).to_vector();
  for (double& v : b) v = v > 0.2 ? 1.0 : 0.0;
  Tensor binary = Tensor::from_vector(b, {2, 1, 4, 5}, DType::kFloat64);
  for (DiceMode mode : {DiceMode::kBatch, DiceMode::kPerImage}) {
    for (ComboLossParams p : {ComboLossParams{3, 1, 4, mode}, ComboLossParams{1, 1, 1, mode},
                              ComboLossParams{2, 1, 2, mode}, ComboLossParams{0, 1, 0, mode}}) {
      for (const Tensor& targets : {soft, binary}) {
        CAPTURE(p.w_bce);
        CAPTURE(p.w_focal);
        CAPTURE(static_cast<int>(mode));
        check_gradients([&](const std::vector<Tensor>& in) { return combo_loss(in[0], targets, p); }, {logits}, opt);
      }
    }
  }
  SUBCASE("other ranks") {
    Tensor x = random_tensor({7}, 14, DType::kFloat64, -3.0, 3.0);
    Tensor t = random_tensor({7}, 15, DType::kFloat64, 0.0, 1.0);
    check_gradients([&](const std::vector<Tensor>& in) { return combo_loss(in[0], t, {}); }, {x}, opt);
  }
}

TEST_CASE("combo_loss: the value and gradient do not depend on the thread count") {
  Tensor logits = random_tensor({2, 1, 70, 90}, 21, DType::kFloat32, -8.0, 8.0);
  Tensor targets = random_tensor({2, 1, 70, 90}, 22, DType::kFloat32, 0.0, 1.0);
  int saved = num_threads();
  std::vector<std::vector<double>> results;
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    Tensor x = logits.clone();
    x.set_requires_grad(true);
    Tensor loss = combo_loss(x, targets, {3, 1, 4, DiceMode::kPerImage});
    loss.backward();
    std::vector<double> r = x.grad().to_vector();
    r.push_back(loss.item());
    results.push_back(r);
  }
  set_num_threads(saved);
  CHECK(results[0] == results[1]);  // bit-identical: fixed blocks, fixed order
}

TEST_CASE("combo_loss: bad input") {
  Tensor x = Tensor::zeros({2, 1, 4, 4});
  expect_error([&] { combo_loss(x, Tensor::zeros({2, 1, 4, 5})); }, {"[combo_loss]", "[2, 1, 4, 5]", "[2, 1, 4, 4]"});
  expect_error([&] { combo_loss(x, Tensor::zeros({2, 1, 4, 4}, DType::kFloat64)); }, {"[combo_loss]", "float64"});
  expect_error([&] { combo_loss(x, Tensor::full({2, 1, 4, 4}, 1.5)); }, {"[combo_loss]", "32 values outside [0, 1]"});
  std::vector<double> t(32, 0.5);
  t[3] = -0.1;
  t[7] = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { combo_loss(x, Tensor::from_vector(t, {2, 1, 4, 4})); }, {"[combo_loss]", "2 values outside"});
  std::vector<double> l(32, 0.0);
  l[0] = std::numeric_limits<double>::infinity();
  l[5] = std::numeric_limits<double>::quiet_NaN();
  expect_error(
      [&] {
        combo_loss(Tensor::from_vector(l, {2, 1, 4, 4}), Tensor::zeros({2, 1, 4, 4}));
      },
      {"[combo_loss]", "2 non-finite"});
  expect_error(
      [&] {
        combo_loss(Tensor::zeros({0, 1, 4, 4}), Tensor::zeros({0, 1, 4, 4}));
      },
      {"[combo_loss]", "no elements"});
  expect_error(
      [&] {
        combo_loss(Tensor::zeros({}), Tensor::zeros({}), {1, 1, 1, DiceMode::kPerImage});
      },
      {"[combo_loss]", "per-image"});
  expect_error([&] { combo_loss(x, x, {std::nan(""), 1, 1, DiceMode::kBatch}); }, {"[combo_loss]", "finite"});
}

TEST_CASE("combo_loss: CPU vs CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  ParityOptions opt;
  opt.requires_grad = {true, false};  // targets are constants
  auto binary = [](const Shape& s, uint64_t seed, double fill) {
    std::vector<double> v = random_tensor(s, seed, DType::kFloat64, 0.0, 1.0).to_vector();
    for (double& e : v) e = e < fill ? 1.0 : 0.0;
    return Tensor::from_vector(v, s, DType::kFloat64);
  };
  for (DiceMode mode : {DiceMode::kBatch, DiceMode::kPerImage}) {
    ComboLossParams p{3, 1, 4, mode};
    auto fn = [p](const std::vector<Tensor>& in) { return combo_fn(in, p); };
    std::string m = mode == DiceMode::kBatch ? " batch" : " per-image";
    check_cuda_parity(fn, {random_tensor({2, 1, 64, 64}, 31, DType::kFloat64, -4, 4), binary({2, 1, 64, 64}, 32, 0.1)},
                      "combo_loss 2x64x64" + m, opt);
    check_cuda_parity(fn,
                      {random_tensor({3, 1, 37, 53}, 33, DType::kFloat64, -4, 4),
                       random_tensor({3, 1, 37, 53}, 34, DType::kFloat64, 0, 1)},
                      "combo_loss odd soft" + m, opt);
    // Saturated logits: p reaches 1 in float32 and falls under 1e-8, so both clamps are exercised.
    check_cuda_parity(fn,
                      {random_tensor({2, 1, 50, 70}, 35, DType::kFloat64, -40, 40), binary({2, 1, 50, 70}, 36, 0.3)},
                      "combo_loss saturated" + m, opt);
    check_cuda_parity(fn,
                      {random_tensor({2, 1, 512, 512}, 37, DType::kFloat64, -6, 6), binary({2, 1, 512, 512}, 38, 0.05)},
                      "combo_loss 2x512x512" + m, opt);
  }
}

TEST_CASE("combo_loss: the device path on CUDA gives the host path's bits" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_device_path_equals_host_path(Device::cuda());
}

TEST_CASE("combo_loss: the reference's golden values and gradients on CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_golden_on(Device::cuda());
}

TEST_CASE("combo_loss: bad input on CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  Tensor x = Tensor::zeros({2, 1, 4, 4}).to(Device::cuda());
  expect_error(
      [&] {
        combo_loss(x, Tensor::full({2, 1, 4, 4}, -2.0).to(Device::cuda()));
      },
      {"[combo_loss]", "32 values outside [0, 1]"});
  std::vector<double> l(32, 0.0);
  l[9] = std::numeric_limits<double>::quiet_NaN();
  expect_error(
      [&] {
        combo_loss(Tensor::from_vector(l, {2, 1, 4, 4}).to(Device::cuda()), x);
      },
      {"[combo_loss]", "1 non-finite"});
  expect_error([&] { combo_loss(x, Tensor::zeros({2, 1, 4, 4})); }, {"[combo_loss]", "cpu"});
}
