// Tests of the decoder blocks (layers/decoders.h): reference parameter names, agreement with the
// composed engine ops (upsample first, concat order [decoder, skip]), float64 gradient checks, and the
// channel check of ConvBottleneck.
#include "layers/decoders.h"

#include "engine/ops/concat.h"
#include "engine/ops/relu.h"
#include "engine/ops/upsample.h"
#include "layers/init.h"
#include "tests/layers/layer_checks.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
const Conv2dParams kSame{.pad_h = 1, .pad_w = 1};

std::vector<std::string> names_of(Module& m) {
  std::vector<std::string> out;
  for (auto& [n, t] : m.named_parameters()) out.push_back(n);
  return out;
}
void randomise(Module& m, uint64_t seed) {
  Rng rng(seed);
  init_module(m, [](const std::string&) { return ConvInit::kPyTorchDefault; }, rng);
}
Tensor conv_relu(const Tensor& x, Conv2d& c) { return relu(conv2d(x, c.weight(), c.bias(), kSame)); }

}  // namespace

TEST_CASE("AlbuDecoderBlock: bilinear upsample first, then two ConvRelu") {
  AlbuDecoderBlock block(6, 5, 4);
  CHECK(names_of(block) == std::vector<std::string>{"block.1.conv.weight", "block.1.conv.bias", "block.2.conv.weight",
                                                      "block.2.conv.bias"});
  randomise(block, 71);
  Tensor x = random_tensor({2, 6, 3, 5}, 72, DType::kFloat32);
  Tensor want = conv_relu(conv_relu(upsample2x(x, UpsampleMode::kBilinear), *block.conv_a->conv), *block.conv_b->conv);
  Tensor got = block.forward(x);
  CHECK(got.shape() == Shape{2, 4, 6, 10});
  expect_close(got, want, 0, 0, "AlbuDecoderBlock vs ops");
  // On a concatenation's parts (AlbuNet's decoder and skip), without the concatenated tensor: the same bits.
  Tensor dec = random_tensor({2, 2, 3, 5}, 78, DType::kFloat32), enc = random_tensor({2, 4, 3, 5}, 79, DType::kFloat32);
  expect_close(block.forward_concat({dec, enc}), block.forward(concat({dec, enc})), 0, 0, "forward_concat");
  expect_error([&] { block.forward_concat({dec, dec}); }, {"[AlbuDecoderBlock]", "4 channels together", "expected 6"});
}

TEST_CASE("UnetDecoderBlock and ConvBottleneck: nearest upsample, conv, ReLU; cat[decoder, skip]") {
  UnetDecoderBlock up(6, 4);
  CHECK(names_of(up) == std::vector<std::string>{"layer.1.weight", "layer.1.bias"});
  randomise(up, 73);
  Tensor x = random_tensor({2, 6, 3, 5}, 74, DType::kFloat32);
  expect_close(up.forward(x), conv_relu(upsample2x(x, UpsampleMode::kNearest), *up.conv), 0, 0, "UnetDecoderBlock");

  ConvBottleneck plain(7, 3, BottleneckGate::kNone);
  CHECK(names_of(plain) == std::vector<std::string>{"seq.0.weight", "seq.0.bias"});
  randomise(plain, 75);
  Tensor dec = random_tensor({2, 4, 6, 5}, 76, DType::kFloat32), enc = random_tensor({2, 3, 6, 5}, 77, DType::kFloat32);
  expect_close(plain.forward(dec, enc), conv_relu(concat({dec, enc}), *plain.conv), 0, 0, "ConvBottleneck");

  ConvBottleneck gated(7, 4, BottleneckGate::kSCSE);
  CHECK(names_of(gated) == std::vector<std::string>{"seq.0.weight", "seq.0.bias", "seq.2.fc1.weight", "seq.2.fc1.bias",
                                                      "seq.2.fc2.weight", "seq.2.fc2.bias",
                                                      "seq.2.spatial_se.0.weight"});
  randomise(gated, 78);
  expect_close(gated.forward(dec, enc), gated.scse->forward(conv_relu(concat({dec, enc}), *gated.conv)), 0, 0,
               "ConvBottleneck + SCSE");
  expect_error([&] { gated.forward(dec, dec); }, {"[ConvBottleneck]", "7 channels"});
}

TEST_CASE("decoder blocks: float64 gradient checks") {
  GradCheckOptions small;
  small.max_checks = 16;
  SUBCASE("AlbuDecoderBlock") {
    AlbuDecoderBlock block(3, 4, 2);
    block.to(DType::kFloat64);
    randomise(block, 81);
    gradcheck_module(block, {random_tensor({2, 3, 3, 4}, 82)}, [&](const std::vector<Tensor>& v) { return block.forward(v[0]); },
                     small);
  }
  SUBCASE("ConvBottleneck with SCSE") {
    ConvBottleneck b(5, 4, BottleneckGate::kSCSE);
    b.to(DType::kFloat64);
    randomise(b, 83);
    gradcheck_module(b, {random_tensor({2, 3, 4, 3}, 84), random_tensor({2, 2, 4, 3}, 85)},
                     [&](const std::vector<Tensor>& v) { return b.forward(v[0], v[1]); }, small);
  }
  SUBCASE("UnetDecoderBlock") {
    UnetDecoderBlock up(3, 2);
    up.to(DType::kFloat64);
    randomise(up, 86);
    gradcheck_module(up, {random_tensor({2, 3, 3, 4}, 87)}, [&](const std::vector<Tensor>& v) { return up.forward(v[0]); },
                     small);
  }
}
