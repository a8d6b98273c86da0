// Tests of SavedActivation (engine/saved_activation.h): when the bf16 policy keeps a bfloat16 copy and what it
// gives back, the copy shared between the nodes that keep one tensor and freed with the last of them, in-place
// ops kept off a tensor with a live copy, the batch norms' outputs kept as recipes and computed again, and a
// chain of convolutions, batch norms and ReLUs whose bf16 gradients are the same bits with the copies and
// recipes as without them while the forward pass leaves under half the bytes for backward to hold.
#include "engine/saved_activation.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/cuda_runtime.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/bf16_storage.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_relu.h"
#include "engine/ops/gated_residual_relu.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "engine/ops/round_bf16.h"
#include "engine/ops/scse.h"
#include "engine/precision.h"
#include "engine/tensor_memory.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

Tensor random_f32(const Shape& shape, uint64_t seed) { return random_tensor(shape, seed, DType::kFloat32); }

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("saved activation: float32 policy keeps the tensor itself") {
  const Tensor x = random_f32({2, 3, 4, 5}, 91);
  for (SavedUse use : {SavedUse::kConvolutionInput, SavedUse::kSign, SavedUse::kValues}) {
    const SavedActivation s(x, use, /*bf16=*/false);
    CHECK_FALSE(s.compact());
    CHECK(s.kept().same_data(x));
    CHECK(s.get().same_data(x));
  }
  CHECK_FALSE(SavedActivation(Tensor(), SavedUse::kSign, true).defined());
  const Tensor d = Tensor::from_vector({1.5, -2.0}, {2}, DType::kFloat64);  // only float32 is ever compacted
  CHECK(SavedActivation(d, SavedUse::kConvolutionInput, true).kept().same_data(d));
}

TEST_CASE("saved activation: bf16 keeps a convolution's input and a ReLU's output as their bfloat16 rounding") {
  const Tensor x = random_f32({2, 3, 4, 5}, 92);
  for (SavedUse use : {SavedUse::kConvolutionInput, SavedUse::kSign}) {
    const SavedActivation s(x, use, /*bf16=*/true);
    REQUIRE(s.compact());
    CHECK(s.kept().dtype() == DType::kBFloat16);
    CHECK(s.kept().nbytes() * 2 == x.nbytes());
    const Tensor back = s.get();
    CHECK(back.dtype() == DType::kFloat32);
    CHECK(same_bits(back, round_bf16(x)));
    for (int64_t i = 0; i < x.numel(); ++i) CHECK((back.data<float>()[i] > 0) == (x.data<float>()[i] > 0));
  }
  const CompactSavedActivationsScope off(false);
  CHECK_FALSE(SavedActivation(x, SavedUse::kConvolutionInput, true).compact());
}

TEST_CASE("saved activation: PLEURA_SAVED_ACTIVATIONS takes bf16 (the default) or float32") {
  CHECK(parse_saved_activations(""));
  CHECK(parse_saved_activations("bf16"));
  CHECK_FALSE(parse_saved_activations("float32"));
  expect_error([] { parse_saved_activations("fp32"); }, {"PLEURA_SAVED_ACTIVATIONS is 'fp32'", "bf16", "float32"});
}

TEST_CASE("saved activation: bf16 keeps exact values as bfloat16 only when they are bfloat16 values already") {
  const Tensor x = random_f32({3, 7}, 93);
  CHECK_FALSE(SavedActivation(x, SavedUse::kValues, true).compact());
  Tensor r = round_bf16(x);
  r.impl().bf16_values = true;
  const SavedActivation s(r, SavedUse::kValues, true);
  REQUIRE(s.compact());
  CHECK(same_bits(s.get(), r));
  CHECK(r.detach().impl().bf16_values);  // detach and view keep the mark
  CHECK(r.view({21}).impl().bf16_values);
  // So does a ReLU (the maximum of a bfloat16 value and 0 is one), in place or not; a sum does not.
  CHECK(relu(r).impl().bf16_values);
  CHECK_FALSE(relu(x).impl().bf16_values);
  Tensor temporary = r.clone();
  temporary.impl().bf16_values = true;
  CHECK(relu(std::move(temporary)).impl().bf16_values);
  CHECK_FALSE(add(r, r).impl().bf16_values);
}

TEST_CASE("saved activation: an SCSE gate keeps a decoder ReLU's output as the copy its mask keeps") {
  // conv2d_relu (its output bfloat16 values under bf16), then scse_maxout keeping that output for its
  // gradients: with the copies the same gradient bits, and the ReLU output held once, as bfloat16.
  const int64_t c = 4;
  auto run = [&](bool compact) {
    const PrecisionScope bf16(Precision::kBFloat16);
    const CompactSavedActivationsScope copies(compact);
    Tensor w = random_f32({c, c, 3, 3}, 141).set_requires_grad(true);
    Tensor gate = random_tensor({2, c, 1, 1}, 142, DType::kFloat32, 0.1, 1.0).set_requires_grad(true);
    Tensor spatial = random_f32({1, c, 1, 1}, 143).set_requires_grad(true);
    const Tensor x = random_f32({2, c, 16, 16}, 144), r = random_f32({2, c, 16, 16}, 145);
    const size_t before = cpu_tensor_memory().bytes_in_use;
    Tensor loss;
    {
      const Tensor y = conv2d_relu(x, w, Tensor(), {.pad_h = 1, .pad_w = 1}, Tensor());
      CHECK(y.impl().bf16_values);
      loss = sum(mul(scse_maxout(y, gate, spatial), r));
    }
    const size_t held = cpu_tensor_memory().bytes_in_use - before;
    loss.backward();
    return std::pair{std::vector<Tensor>{w.grad(), gate.grad(), spatial.grad()}, held};
  };
  const auto [plain, plain_held] = run(false);
  const auto [compact, compact_held] = run(true);
  for (size_t i = 0; i < plain.size(); ++i) CHECK(same_bits(plain[i], compact[i]));
  // One output is 2 * 4 * 16 * 16 floats: kept twice as float32 without the copies (the convolution's rounded
  // input on the CPU aside), once as bfloat16 with them.
  const size_t one_output = 2 * c * 16 * 16 * sizeof(float);
  MESSAGE("held: ", plain_held, " float32, ", compact_held, " with the copies");
  CHECK(plain_held >= compact_held + one_output);
}

TEST_CASE("saved activation: nodes keeping one tensor share one copy, freed with the last of them") {
  const Tensor x = random_f32({4, 8, 8}, 94);
  auto a = std::make_unique<SavedActivation>(x, SavedUse::kSign, true);
  auto b = std::make_unique<SavedActivation>(x.detach(), SavedUse::kConvolutionInput, true);
  const SavedActivation view(x.view({4, 64}), SavedUse::kSign, false);  // float32: the tensor itself
  CHECK(a->kept().same_data(b->kept()));
  CHECK(has_saved_bf16_copy(x));
  const Tensor other = x.clone();
  const SavedActivation c(other, SavedUse::kSign, true);
  CHECK_FALSE(c.kept().same_data(a->kept()));
  a.reset();
  CHECK(has_saved_bf16_copy(x));
  b.reset();
  CHECK_FALSE(has_saved_bf16_copy(x));
  CHECK(has_saved_bf16_copy(other));
}

TEST_CASE("saved activation: an op does not write over a tensor whose bfloat16 copy is kept") {
  Tensor x = random_f32({2, 16}, 95);
  const SavedActivation s(x, SavedUse::kConvolutionInput, true);
  const Tensor copy_before = s.get();
  const NoGradGuard no_grad;
  const void* x_data = x.raw();
  const Tensor y = relu(std::move(x));
  CHECK(y.raw() != x_data);  // a new tensor: x's data (and its copy) unchanged
  CHECK(same_bits(s.get(), copy_before));
  Tensor z = random_f32({2, 16}, 96);
  const void* z_data = z.raw();
  CHECK(relu(std::move(z)).raw() == z_data);  // no copy kept: written over
}

namespace {

// What backward would give and what the forward left it to hold.
struct ChainRun {
  std::vector<Tensor> grads;
  size_t bytes_held = 0;
  size_t batch_norm_bytes_held = 0;  // of those, what the batch norm op allocated itself (not its copies)
};

// conv, batch norm + ReLU, conv (its input the ReLU's output), batch norm + residual + ReLU, conv + ReLU, batch
// norm (whose output is no bfloat16 value), SE-style gated residual + ReLU, conv, ReLU; loss = sum(out * r). Run
// under bf16 with or without the copies.
size_t bytes_in_use(Device d) {
  return d.is_cuda() ? cuda::memory_stats(d.index).bytes_in_use : cpu_tensor_memory().bytes_in_use;
}

ChainRun run_chain(bool compact, Device d = Device::cpu(), Precision policy = Precision::kBFloat16) {
  const PrecisionScope bf16(policy);
  const CompactSavedActivationsScope copies(compact);
  const int64_t c = 4;
  auto leaf = [d](Tensor t) { return t.to(d).set_requires_grad(true); };
  Tensor x = random_f32({2, c, 24, 24}, 101).to(d);
  std::vector<Tensor> params;
  for (int i = 0; i < 4; ++i) params.push_back(leaf(random_f32({c, c, 3, 3}, 110 + i)));
  Tensor gamma = leaf(random_f32({c}, 120)), beta = leaf(random_f32({c}, 121));
  Tensor gate = leaf(random_tensor({2, c, 1, 1}, 122, DType::kFloat32, 0.1, 1.0));
  Tensor rm = Tensor::zeros({c}, DType::kFloat32, d), rv = Tensor::ones({c}, DType::kFloat32, d);
  Tensor rm2 = rm.clone(), rv2 = rv.clone(), rm3 = rm.clone(), rv3 = rv.clone();
  const Tensor r = random_f32({2, c, 24, 24}, 123).to(d);
  const Conv2dParams same{.pad_h = 1, .pad_w = 1};
  const size_t before = bytes_in_use(d);
  set_tensor_memory_by_op(true);
  Tensor loss;
  {
    const Tensor y1 = batch_norm2d_relu(conv2d(x, params[0], Tensor(), same), gamma, beta, rm, rv, {});
    const Tensor y2 = batch_norm2d_relu(conv2d(y1, params[1], Tensor(), same), gamma, beta, rm2, rv2, {}, y1);
    const Tensor y3 = conv2d_relu(y2, params[2], Tensor(), same, Tensor());
    const Tensor y4 = gated_residual_relu(batch_norm2d(y3, gamma, beta, rm3, rv3, {}), gate, y2);
    loss = sum(mul(relu(conv2d(y4, params[3], Tensor(), same)), r));
  }
  ChainRun run;
  run.bytes_held = bytes_in_use(d) - before;
  for (const OpBytes& o : tensor_memory_by_op(d))
    if (o.op == "batch_norm2d") run.batch_norm_bytes_held = o.bytes;
  set_tensor_memory_by_op(false);
  loss.backward();
  for (const Tensor* t : {&params[0], &params[1], &params[2], &params[3], &gamma, &beta, &gate})
    run.grads.push_back(t->grad().to(Device::cpu()));
  return run;
}

}  // namespace

TEST_CASE("saved activation: a bf16 chain's gradients are the same bits with the bfloat16 copies, in half the bytes") {
  const ChainRun plain = run_chain(false), compact = run_chain(true);
  REQUIRE(plain.grads.size() == compact.grads.size());
  for (size_t i = 0; i < plain.grads.size(); ++i) {
    CAPTURE(i);
    CHECK(same_bits(plain.grads[i], compact.grads[i]));
  }
  MESSAGE("bytes held for backward: ", plain.bytes_held, " float32, ", compact.bytes_held, " with the copies");
  CHECK(compact.bytes_held * 10 < plain.bytes_held * 5);
  // The three batch norms' outputs: held as float32 without the copies (by the convolutions and the gated
  // residual that keep them), not at all with them (recipes: only the statistics stay).
  const size_t one_output = 2 * 4 * 24 * 24 * sizeof(float);
  CHECK(plain.batch_norm_bytes_held >= 3 * one_output);
  CHECK(compact.batch_norm_bytes_held < one_output / 8);
}

TEST_CASE("saved activation: under float32 too the batch norms' outputs are computed again, the same gradient bits") {
  const ChainRun plain = run_chain(false, Device::cpu(), Precision::kFloat32);
  const ChainRun recomputed = run_chain(true, Device::cpu(), Precision::kFloat32);
  for (size_t i = 0; i < plain.grads.size(); ++i) {
    CAPTURE(i);
    CHECK(same_bits(plain.grads[i], recomputed.grads[i]));
  }
  MESSAGE("bytes held for backward in float32: ", plain.bytes_held, " as they are, ", recomputed.bytes_held,
          " with the batch norms' outputs computed again");
  // Held as they are: the three batch norms' outputs. Computed again: the two without a residual sum (only
  // their statistics stay, 2 * 4 doubles each); the one with a residual is the next convolution's input.
  const size_t one_output = 2 * 4 * 24 * 24 * sizeof(float);
  CHECK(plain.batch_norm_bytes_held >= 3 * one_output);
  CHECK(recomputed.batch_norm_bytes_held < one_output + one_output / 8);
  CHECK(recomputed.bytes_held + 2 * one_output <= plain.bytes_held + 2 * 8 * sizeof(double));
}

TEST_CASE("saved activation: a batch norm's output is kept as a recipe, computed again as the copy would be") {
  const PrecisionScope bf16(Precision::kBFloat16);
  const int64_t c = 3;
  Tensor x = random_f32({2, c, 5, 7}, 131).set_requires_grad(true);
  Tensor gamma = random_f32({c}, 132), beta = random_f32({c}, 133);
  Tensor rm = Tensor::zeros({c}), rv = Tensor::ones({c});
  const Tensor y = batch_norm2d_relu(x, gamma, beta, rm, rv, {});
  const Tensor z = batch_norm2d(x, gamma, beta, rm, rv, {});
  const Tensor with_residual = batch_norm2d_relu(x, gamma, beta, rm, rv, {}, z);
  const SavedActivation as_input(y, SavedUse::kConvolutionInput, true), as_values(z, SavedUse::kValues, true);
  REQUIRE(as_input.recomputed());
  REQUIRE(as_values.recomputed());
  // The convolution's input: the bfloat16 copy's bits, from kept() and (widened) from get().
  CHECK(same_bits(as_input.kept(), to_bf16_storage(y)));
  CHECK(same_bits(as_input.get(), round_bf16(y)));
  // The values: the output itself, bit for bit.
  CHECK(same_bits(as_values.kept(), z.detach()));
  CHECK(same_bits(as_values.get(), z.detach()));
  // A node under the float32 policy keeping y takes the recipe too, and gets y itself.
  const SavedActivation float32_input(y, SavedUse::kConvolutionInput, false);
  REQUIRE(float32_input.recomputed());
  CHECK(same_bits(float32_input.kept(), y.detach()));
  CHECK(same_bits(float32_input.get(), y.detach()));
  // Not for a batch norm with a residual sum, nor with compaction off.
  CHECK_FALSE(SavedActivation(with_residual, SavedUse::kSign, true).recomputed());
  {
    const CompactSavedActivationsScope off(false);
    CHECK_FALSE(SavedActivation(y, SavedUse::kSign, true).recomputed());
  }
  // A view of another shape is another tensor to keep.
  CHECK_FALSE(SavedActivation(y.detach().view({2, c, 35}), SavedUse::kSign, true).recomputed());
  // Nothing recording (no gradient to come): no recipe.
  NoGradGuard no_grad;
  const Tensor unrecorded = batch_norm2d(x, gamma, beta, rm, rv, {});
  CHECK_FALSE(SavedActivation(unrecorded, SavedUse::kValues, true).recomputed());
}

TEST_CASE("saved activation: on CUDA too, the same gradient bits with the bfloat16 copies, in fewer bytes" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const ChainRun plain = run_chain(false, Device::cuda()), compact = run_chain(true, Device::cuda());
  for (size_t i = 0; i < plain.grads.size(); ++i) {
    CAPTURE(i);
    CHECK(same_bits(plain.grads[i], compact.grads[i]));
  }
  MESSAGE("bytes held for backward on CUDA: ", plain.bytes_held, " float32, ", compact.bytes_held, " with the copies");
  CHECK(compact.bytes_held * 10 < plain.bytes_held * 7);
}
