// Tests of layers/flops.h: FLOP counts worked by hand for one convolution, a two-layer stack and the SE
// gates (constant whatever the input size), scaling to other sizes checked against a second counted
// pass, nested tallies, and the errors (a size with no whole output).
#include "layers/flops.h"

#include "engine/autograd.h"
#include "engine/random.h"
#include "layers/conv.h"
#include "layers/se.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// The terms of one forward of `layer` on a random [N, C, H, W] input (seed 5).
std::vector<FlopTerm> count(Layer& layer, const Shape& input) {
  Rng rng(5);
  const Tensor x = rand_uniform(input, rng, -1.0, 1.0);
  NoGradGuard no_grad;
  FlopTally tally;
  layer.forward(x);
  return tally.terms();
}

}  // namespace

TEST_CASE("flops: one convolution, worked by hand, counted for one image whatever the batch") {
  // 3 -> 8 channels, 3x3, padding 1, on 5x7: 2 * K * C * R * S = 2 * 8 * 3 * 3 * 3 = 432 per output
  // position, 5 * 7 = 35 positions: 15120.
  Conv2d conv(3, 8, 3, Bias::kWith, {.pad_h = 1, .pad_w = 1});
  std::vector<FlopTerm> terms = count(conv, {2, 3, 5, 7});
  REQUIRE(terms.size() == 1);
  CHECK(terms[0].flops_per_output == 432);
  CHECK(terms[0].out_h == 5);
  CHECK(terms[0].out_w == 7);
  CHECK(terms[0].scaling == FlopScaling::kWithArea);
  CHECK(flops_total(terms) == 15120);
  // Grouped and strided: 4 -> 6 channels in 2 groups (2 inputs per group), 3x3, stride 2, no padding, on
  // 9x9 -> 4x4: 2 * 6 * 2 * 9 = 216 per position, 16 positions: 3456.
  Conv2d grouped(4, 6, 3, Bias::kNone, {.stride_h = 2, .stride_w = 2, .groups = 2});
  CHECK(flops_total(count(grouped, {1, 4, 9, 9})) == 3456);
}

TEST_CASE("flops: a two-layer stack by hand, and scaled to another size as a second pass counts it") {
  Rng rng(3);
  Sequential stack;
  auto a = stack.append(std::make_shared<Conv2d>(3, 4, 3, Bias::kWith, Conv2dParams{.stride_h = 2, .stride_w = 2,
                                                                                     .pad_h = 1, .pad_w = 1}));
  auto b = stack.append(std::make_shared<Conv2d>(4, 2, 1, Bias::kWith));
  a->reset_parameters(rng);
  b->reset_parameters(rng);
  // 8x8 -> 4x4: a = 2 * 4 * 3 * 9 * 16 = 3456, b = 2 * 2 * 4 * 16 = 256.
  std::vector<FlopTerm> at8 = count(stack, {1, 3, 8, 8});
  REQUIRE(at8.size() == 2);
  CHECK(flops_total(at8) == 3456 + 256);
  // At 16x24 both outputs are 8x12 (96 positions): 2 * 4 * 27 * 96 + 2 * 2 * 4 * 96 = 20736 + 1536.
  CHECK(flops_at(at8, 8, 8, 16, 24) == 22272);
  CHECK(flops_total(count(stack, {1, 3, 16, 24})) == 22272);
  // No whole output: 4 * 5 / 8 is not an integer.
  expect_error([&] { flops_at(at8, 8, 8, 5, 8); }, {"[flops_at] term 0", "output 4x4 at input 8x8", "at input 5x8"});
  expect_error([&] { flops_at(at8, 8, 8, 0, 8); }, {"[flops_at] sizes must be positive"});
}

TEST_CASE("flops: the SE gates' fc1 and fc2 are constant, SCSE's spatial gate scales with the area") {
  SEModule se(8, 4);  // fc1 8 -> 2, fc2 2 -> 8 on [8, 1, 1]: 2 * 2 * 8 + 2 * 8 * 2 = 64
  std::vector<FlopTerm> se_terms = count(se, {1, 8, 6, 6});
  REQUIRE(se_terms.size() == 2);
  CHECK(se_terms[0].scaling == FlopScaling::kConstant);
  CHECK(flops_total(se_terms) == 64);
  CHECK(flops_at(se_terms, 6, 6, 60, 12) == 64);

  // fc1 8 -> 4 and fc2 4 -> 8: 64 + 64; spatial_se.0 8 -> 1 over 6x6 (inside the fused scse_maxout): 576.
  SCSEModule scse(8, 2);
  std::vector<FlopTerm> scse_terms = count(scse, {1, 8, 6, 6});
  REQUIRE(scse_terms.size() == 3);
  CHECK(scse_terms[2].scaling == FlopScaling::kWithArea);
  CHECK(flops_total(scse_terms) == 128 + 576);
  CHECK(flops_at(scse_terms, 6, 6, 12, 12) == 128 + 2 * 8 * 144);
  CHECK(flops_total(count(scse, {1, 8, 12, 12})) == 128 + 2 * 8 * 144);
}

TEST_CASE("flops: nothing is recorded outside a tally; nested tallies, the innermost records") {
  Conv2d conv(2, 2, 1, Bias::kNone);  // 2 * 2 * 2 = 8 per position
  Rng rng(9);
  const Tensor x3 = rand_uniform({1, 2, 3, 3}, rng, -1.0, 1.0), x4 = rand_uniform({1, 2, 4, 4}, rng, -1.0, 1.0);
  conv.forward(x3);  // no tally open: nothing to record into
  FlopTally outer;
  CHECK(outer.terms().empty());
  conv.forward(x3);
  {
    ConstantFlopsScope pooled;  // an inner tally starts outside the scope and gives it back when it closes
    FlopTally inner;
    conv.forward(x4);
    REQUIRE(inner.terms().size() == 1);
    CHECK(inner.terms()[0].scaling == FlopScaling::kWithArea);
    CHECK(flops_total(inner.terms()) == 8 * 16);
  }
  conv.forward(x3);
  REQUIRE(outer.terms().size() == 2);
  CHECK(flops_total(outer.terms()) == 2 * 8 * 9);
}
