// Tests of the initialisation schemes (layers/init.h): the standard deviation each scheme promises
// (fan-in with groups, fan-out), zero biases, BatchNorm2d reset, determinism from the seed.
#include "layers/init.h"

#include <cmath>

#include "layers/batchnorm.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
void moments(const Tensor& t, double& mean, double& stddev) {
  std::vector<double> v = t.to_vector();
  mean = 0;
  for (double e : v) mean += e / v.size();
  double var = 0;
  for (double e : v) var += (e - mean) * (e - mean) / v.size();
  stddev = std::sqrt(var);
}
}  // namespace

TEST_CASE("init_conv: kaiming normal by fan-in (groups counted) and by fan-out, zero bias") {
  Rng rng(91);
  struct Case {
    int64_t in, out, k, groups;
    ConvInit scheme;
    double expected_std;
  };
  // 8192 to 589824 samples: the sample standard deviation is within 2% of the true one.
  for (const Case& c : {Case{256, 256, 3, 1, ConvInit::kKaimingNormalFanIn, std::sqrt(2.0 / (256 * 9))},
                        Case{256, 256, 3, 32, ConvInit::kKaimingNormalFanIn, std::sqrt(2.0 / (8 * 9))},
                        Case{64, 256, 1, 1, ConvInit::kKaimingNormalFanOut, std::sqrt(2.0 / 256)},
                        Case{64, 64, 7, 1, ConvInit::kKaimingNormalFanOut, std::sqrt(2.0 / (64 * 49))}}) {
    CAPTURE(c.groups);
    CAPTURE(c.k);
    Conv2d conv(c.in, c.out, c.k, Bias::kWith, {.groups = c.groups});
    conv.bias().copy_from(Tensor::ones({c.out}));
    init_conv(conv, c.scheme, rng);
    double mean, stddev;
    moments(conv.weight(), mean, stddev);
    CHECK(std::fabs(stddev / c.expected_std - 1) < 0.02);
    CHECK(std::fabs(mean) < 0.05 * c.expected_std);
    CHECK(conv.bias().to_vector() == std::vector<double>(c.out, 0.0));
  }
}

TEST_CASE("init_conv: the PyTorch default is Conv2d::reset_parameters") {
  Conv2d a(8, 4, 3, Bias::kWith), b(8, 4, 3, Bias::kWith);
  Rng ra(92), rb(92);
  init_conv(a, ConvInit::kPyTorchDefault, ra);
  b.reset_parameters(rb);
  CHECK(a.weight().to_vector() == b.weight().to_vector());
  CHECK(a.bias().to_vector() == b.bias().to_vector());
  double mean, stddev;
  moments(a.bias(), mean, stddev);
  CHECK(stddev > 0);
}

TEST_CASE("init_module: schemes by module name, batch norm reset, same seed same weights") {
  auto build = [] {
    auto root = std::make_shared<Sequential>();
    root->append(std::make_shared<Conv2d>(16, 16, 3, Bias::kWith), "enc");
    root->append(std::make_shared<BatchNorm2d>(16), "bn");
    root->append(std::make_shared<Conv2d>(16, 16, 3, Bias::kWith), "dec");
    return root;
  };
  auto scheme = [](const std::string& name) {
    return name == "enc" ? ConvInit::kKaimingNormalFanOut : ConvInit::kPyTorchDefault;
  };
  auto m1 = build(), m2 = build(), m3 = build();
  auto& bn = dynamic_cast<BatchNorm2d&>((*m1)[1]);
  bn.running_var().copy_from(Tensor::full({16}, 3.0));
  bn.weight().copy_from(Tensor::full({16}, 2.0));
  Rng r1(93), r2(93), r3(94);
  init_module(*m1, scheme, r1);
  init_module(*m2, scheme, r2);
  init_module(*m3, scheme, r3);
  CHECK(bn.running_var().to_vector() == std::vector<double>(16, 1.0));
  CHECK(bn.weight().to_vector() == std::vector<double>(16, 1.0));
  auto& enc = dynamic_cast<Conv2d&>((*m1)[0]);
  auto& dec = dynamic_cast<Conv2d&>((*m1)[2]);
  CHECK(enc.bias().to_vector() == std::vector<double>(16, 0.0));       // kaiming: zero bias
  CHECK(dec.bias().to_vector() != std::vector<double>(16, 0.0));       // default: uniform bias
  auto s1 = m1->state_dict_slots(), s2 = m2->state_dict_slots(), s3 = m3->state_dict_slots();
  for (size_t i = 0; i < s1.size(); ++i) CHECK_MESSAGE(s1[i].second->to_vector() == s2[i].second->to_vector(), s1[i].first);
  CHECK(s1[0].second->to_vector() != s3[0].second->to_vector());
}
