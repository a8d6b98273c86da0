// Tests of the residual blocks and stage builder (layers/blocks.h): reference parameter names and
// shapes (SE-ResNeXt widths included), agreement with the same computation written with engine ops,
// and float64 gradient checks of each block with a downsample.
#include "layers/blocks.h"

#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/relu.h"
#include "layers/init.h"
#include "tests/layers/layer_checks.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
std::vector<std::string> param_names(Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(n + " " + t->shape().str());
  return out;
}

// Random convs and batch-norm affine parameters (batch norm weight 1 / bias 0 would hide mistakes).
void randomise(Module& m, uint64_t seed) {
  Rng rng(seed);
  init_module(m, [](const std::string&) { return ConvInit::kKaimingNormalFanIn; }, rng);
  for (auto& [name, mod] : m.named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(mod)) {
      bn->weight().copy_from(rand_uniform(bn->weight().shape(), rng, 0.5, 1.5, bn->weight().dtype()));
      bn->bias().copy_from(rand_uniform(bn->bias().shape(), rng, -0.5, 0.5, bn->bias().dtype()));
    }
}

// Gradient check over the input and every parameter of `block` (random weights, float64).
void gradcheck_block(Layer& block, const Shape& x_shape, uint64_t seed) {
  block.to(DType::kFloat64);
  randomise(block, seed);
  GradCheckOptions opt;
  opt.max_checks = 12;
  // A block's loss passes through batch norms over a few values and many sums: at the default step 1e-6 the
  // forward's rounding, divided by the step, reached 1.05e-6 of a gradient (SEResNeXtBottleneck; 3.6e-6 at
  // 1e-7, 4.4e-8 at 1e-5). At 1e-5 both the rounding and the truncation (step squared) stay near 1e-7.
  opt.eps = 1e-5;
  gradcheck_module(block, {random_tensor(x_shape, seed + 1)}, [&](const std::vector<Tensor>& v) { return block.forward(v[0]); },
                   opt);
}
}  // namespace

TEST_CASE("BasicBlock: names, shapes and the composed computation") {
  auto block = std::make_shared<BasicBlock>(8, 16, 2, make_downsample(8, 16, 2));
  CHECK(param_names(*block) == std::vector<std::string>{
                                   "conv1.weight [16, 8, 3, 3]", "bn1.weight [16]", "bn1.bias [16]",
                                   "conv2.weight [16, 16, 3, 3]", "bn2.weight [16]", "bn2.bias [16]",
                                   "downsample.0.weight [16, 8, 1, 1]", "downsample.1.weight [16]", "downsample.1.bias [16]"});
  randomise(*block, 51);
  Tensor x = random_tensor({2, 8, 9, 8}, 52, DType::kFloat32);
  Conv2dParams s2p1{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  auto bn = [](BatchNorm2d& b, const Tensor& t) {
    return batch_norm2d(t, b.weight(), b.bias(), b.running_mean(), b.running_var(), {});
  };
  // The reference computation on separate copies of the running statistics.
  BatchNorm2d b1(16), b2(16), bd(16);
  b1.weight().copy_from(block->bn1->weight()), b1.bias().copy_from(block->bn1->bias());
  b2.weight().copy_from(block->bn2->weight()), b2.bias().copy_from(block->bn2->bias());
  auto& ds_bn = dynamic_cast<BatchNorm2d&>((*block->downsample)[1]);
  auto& ds_conv = dynamic_cast<Conv2d&>((*block->downsample)[0]);
  bd.weight().copy_from(ds_bn.weight()), bd.bias().copy_from(ds_bn.bias());
  Tensor out = relu(bn(b1, conv2d(x, block->conv1->weight(), Tensor(), s2p1)));
  out = bn(b2, conv2d(out, block->conv2->weight(), Tensor(), {.pad_h = 1, .pad_w = 1}));
  Tensor res = bn(bd, conv2d(x, ds_conv.weight(), Tensor(), {.stride_h = 2, .stride_w = 2}));
  Tensor want = relu(add(out, res));
  Tensor got = block->forward(x);
  CHECK(got.shape() == Shape{2, 16, 5, 4});
  expect_close(got, want, 0, 0, "BasicBlock vs ops");
  expect_close(block->bn1->running_mean(), b1.running_mean(), 0, 0, "bn1 running mean");
}

TEST_CASE("Bottleneck and SEResNeXtBottleneck: names, widths, shapes") {
  Bottleneck b(256, 64, 1, nullptr);
  CHECK(param_names(b) == std::vector<std::string>{
                              "conv1.weight [64, 256, 1, 1]", "bn1.weight [64]", "bn1.bias [64]",
                              "conv2.weight [64, 64, 3, 3]", "bn2.weight [64]", "bn2.bias [64]",
                              "conv3.weight [256, 64, 1, 1]", "bn3.weight [256]", "bn3.bias [256]"});
  CHECK(b.conv2->params().stride_h == 1);
  // SE-ResNeXt 32x4d: width = floor(planes * 4 / 64) * 32; grouped 3x3 conv carries the stride.
  SEResNeXtBottleneck se(256, 128, 2, make_downsample(256, 512, 2));
  CHECK(param_names(se) == std::vector<std::string>{
                               "conv1.weight [256, 256, 1, 1]", "bn1.weight [256]", "bn1.bias [256]",
                               "conv2.weight [256, 8, 3, 3]", "bn2.weight [256]", "bn2.bias [256]",
                               "conv3.weight [512, 256, 1, 1]", "bn3.weight [512]", "bn3.bias [512]",
                               "se_module.fc1.weight [32, 512, 1, 1]", "se_module.fc1.bias [32]",
                               "se_module.fc2.weight [512, 32, 1, 1]", "se_module.fc2.bias [512]",
                               "downsample.0.weight [512, 256, 1, 1]", "downsample.1.weight [512]",
                               "downsample.1.bias [512]"});
  CHECK(se.conv2->params().groups == 32);
  CHECK(se.conv2->params().stride_h == 2);
  CHECK(se.conv1->params().stride_h == 1);
  NoGradGuard no_grad;
  CHECK(se.forward(random_tensor({1, 256, 6, 6}, 53, DType::kFloat32)).shape() == Shape{1, 512, 3, 3});
}

TEST_CASE("make_res_layer: block count, downsample only where PyTorch puts one, running channels") {
  int64_t inplanes = 64;
  auto l1 = make_res_layer(BlockKind::kBasic, inplanes, 64, 3, 1);
  CHECK(inplanes == 64);
  CHECK(l1->size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(dynamic_cast<BasicBlock&>((*l1)[i]).downsample == nullptr);
  auto l2 = make_res_layer(BlockKind::kBottleneck, inplanes, 64, 3, 1);  // 64 -> 256: channel change
  CHECK(inplanes == 256);
  CHECK(dynamic_cast<Bottleneck&>((*l2)[0]).downsample != nullptr);
  CHECK(dynamic_cast<Bottleneck&>((*l2)[1]).downsample == nullptr);
  auto l3 = make_res_layer(BlockKind::kSEResNeXt, inplanes, 128, 4, 2);
  CHECK(inplanes == 512);
  auto& first = dynamic_cast<SEResNeXtBottleneck&>((*l3)[0]);
  CHECK(dynamic_cast<Conv2d&>((*first.downsample)[0]).params().stride_h == 2);
  CHECK(dynamic_cast<SEResNeXtBottleneck&>((*l3)[3]).conv2->params().stride_h == 1);
}

TEST_CASE("residual blocks: float64 gradient checks with a strided downsample") {
  SUBCASE("BasicBlock") {
    BasicBlock b(4, 6, 2, make_downsample(4, 6, 2));
    gradcheck_block(b, {2, 4, 6, 5}, 61);
  }
  SUBCASE("Bottleneck") {
    Bottleneck b(8, 4, 2, make_downsample(8, 16, 2));
    gradcheck_block(b, {2, 8, 5, 6}, 62);
  }
  SUBCASE("SEResNeXtBottleneck") {
    // planes 16: width 16 * 4 / 64 * 32 = 32 in 32 groups of one channel; SE 64 -> 4 -> 64.
    SEResNeXtBottleneck b(24, 16, 2, make_downsample(24, 64, 2));
    gradcheck_block(b, {2, 24, 6, 6}, 63);
  }
}
