// Tests of train/checkpoint.h on a small module: plain weights with PyTorch names, and the training state
// (weights, Adam moments and steps, pending gradients, the loop's metadata) read back exactly, so that the
// next optimizer step after a reload equals the one without it; wrong files are refused by name.
#include "train/checkpoint.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/ops/conv2d.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/safetensors.h"
#include "layers/batchnorm.h"
#include "layers/conv.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// conv (weight + bias) -> BatchNorm2d (weight, bias, running stats, num_batches_tracked), plus a
// parameter the forward never uses (so Adam has no state for it).
class Small : public Module {
 public:
  explicit Small(uint64_t seed) {
    conv_ = register_module("conv", std::make_shared<Conv2d>(2, 3, 3, Bias::kWith));
    bn_ = register_module("bn", std::make_shared<BatchNorm2d>(3));
    Rng rng(seed);
    for (auto& [name, t] : named_parameters()) t->copy_from(rand_uniform(t->shape(), rng, -0.5, 0.5));
    register_parameter("unused", Tensor::zeros(Shape{4}));
  }
  Tensor forward(const Tensor& x) { return bn_->forward(conv_->forward(x)); }

 private:
  std::shared_ptr<Conv2d> conv_;
  std::shared_ptr<BatchNorm2d> bn_;
};

void train_step(Small& m, Adam& adam, uint64_t seed, bool step) {
  Rng rng(seed);
  Tensor x = rand_uniform(Shape{2, 2, 5, 5}, rng, -1, 1);
  Tensor y = m.forward(x);
  sum(mul(y, y)).backward();
  if (step) {
    adam.step(0.5);
    adam.zero_grad();
  }
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TrainingState sample_state() {
  TrainingState s;
  s.config_hash = "0123456789abcdef";
  s.pipeline = "albunet_1024";
  s.fold = 3;
  s.epoch = 7;
  s.batch = 12;
  s.training_done = false;
  s.loss_sum = 0.1 + 0.2;  // not representable in a short decimal: checks the exact round trip
  s.loss_count = 12;
  s.epoch_seconds = 33.25;
  s.wait_seconds = 1.0 / 3.0;
  s.best_score = 0.8123456789012345;
  s.best_epoch = 5;
  s.topk = {{0.81, 5, "a/x_epoch5.safetensors"}, {0.79, 4, "a/x_epoch4.safetensors"}};
  s.lr = 1e-5;
  s.scheduler = {{"best", -std::numeric_limits<double>::infinity()}, {"bad_epochs", 2}};
  s.summary_rows = 6;
  s.metrics_rows = 8;
  return s;
}

}  // namespace

TEST_CASE("checkpoint: weights under their state_dict names, with metadata") {
  TempDir t;
  Small a(1), b(2);
  save_weights(t.file("w.safetensors"), a, {{"epoch", "4"}});
  std::map<std::string, std::string> meta;
  const std::vector<NamedTensor> file = read_safetensors(t.file("w.safetensors"), &meta);
  CHECK(meta.at("format") == "pt");
  CHECK(meta.at("epoch") == "4");
  std::vector<std::string> names;
  for (const NamedTensor& n : file) names.push_back(n.name);
  CHECK(names == std::vector<std::string>{"unused", "conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                          "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"});
  load_weights(t.file("w.safetensors"), b);
  for (size_t i = 0; i < a.state_dict_slots().size(); ++i)
    CHECK(same_bytes(*a.state_dict_slots()[i].second, *b.state_dict_slots()[i].second));
}

TEST_CASE("checkpoint: the training state comes back exactly and the next step matches") {
  TempDir t;
  Small m(1);
  AdamOptions o;
  o.lr = 1e-2;
  o.weight_decay = 1e-3;
  Adam adam(m.parameters(), o);
  train_step(m, adam, 10, true);
  train_step(m, adam, 11, true);
  train_step(m, adam, 12, false);  // a gradient accumulated, not yet applied
  const TrainingState s = sample_state();
  save_training_state(t.file("s.safetensors"), s, m, adam);

  Small r(99);
  Adam radam(r.parameters(), o);
  const TrainingState back = load_training_state(t.file("s.safetensors"), r, radam);
  CHECK(back.config_hash == s.config_hash);
  CHECK(back.pipeline == s.pipeline);
  CHECK(back.fold == 3);
  CHECK(back.epoch == 7);
  CHECK(back.batch == 12);
  CHECK(back.loss_sum == s.loss_sum);
  CHECK(back.wait_seconds == s.wait_seconds);
  CHECK(back.best_score == s.best_score);
  CHECK(back.best_epoch == 5);
  REQUIRE(back.topk.size() == 2);
  CHECK(back.topk[1].path == "a/x_epoch4.safetensors");
  CHECK(back.topk[0].score == 0.81);
  CHECK(std::isinf(back.scheduler.at("best")));
  CHECK(back.scheduler.at("bad_epochs") == 2);
  CHECK(back.summary_rows == 6);
  CHECK(back.metrics_rows == 8);
  CHECK(back.lr == 1e-5);
  // Everything the model and optimizer hold.
  for (size_t i = 0; i < m.state_dict_slots().size(); ++i)
    CHECK(same_bytes(*m.state_dict_slots()[i].second, *r.state_dict_slots()[i].second));
  const NamedSlots pm = m.named_parameters(), pr = r.named_parameters();
  for (size_t i = 0; i < pm.size(); ++i) {
    CAPTURE(pm[i].first);
    CHECK(adam.state()[i].step == radam.state()[i].step);
    CHECK(adam.state()[i].exp_avg.defined() == radam.state()[i].exp_avg.defined());
    if (adam.state()[i].exp_avg.defined()) {
      CHECK(same_bytes(adam.state()[i].exp_avg, radam.state()[i].exp_avg));
      CHECK(same_bytes(adam.state()[i].exp_avg_sq, radam.state()[i].exp_avg_sq));
    }
    CHECK(pm[i].second->grad().defined() == pr[i].second->grad().defined());
    if (pm[i].second->grad().defined()) CHECK(same_bytes(pm[i].second->grad(), pr[i].second->grad()));
  }
  CHECK(adam.state()[0].step == 0);  // "unused": no gradient ever, no state
  CHECK(adam.state()[1].step == 2);
  // One more identical step on both: identical results.
  train_step(m, adam, 13, true);
  train_step(r, radam, 13, true);
  for (size_t i = 0; i < m.state_dict_slots().size(); ++i)
    CHECK(same_bytes(*m.state_dict_slots()[i].second, *r.state_dict_slots()[i].second));

  const TrainingState peek = peek_training_state(t.file("s.safetensors"));
  CHECK(peek.batch == 12);
  CHECK_FALSE(peek.finished);
}

TEST_CASE("checkpoint: files that are not this model's training state are refused by name") {
  TempDir t;
  Small m(1);
  Adam adam(m.parameters(), AdamOptions{});
  save_weights(t.file("w.safetensors"), m, {});
  expect_error([&] { load_training_state(t.file("w.safetensors"), m, adam); },
               {t.file("w.safetensors"), "is not a training state file"});
  save_training_state(t.file("s.safetensors"), sample_state(), m, adam);
  // Another model (a conv with 4 outputs) does not fit.
  class Other : public Module {
   public:
    Other() {
      register_module("conv", std::make_shared<Conv2d>(2, 4, 3, Bias::kWith));
      register_module("bn", std::make_shared<BatchNorm2d>(4));
      register_parameter("unused", Tensor::zeros(Shape{4}));
    }
  } other;
  Adam other_adam(other.parameters(), AdamOptions{});
  expect_error([&] { load_training_state(t.file("s.safetensors"), other, other_adam); },
               {t.file("s.safetensors"), "conv.weight"});
  // A state whose metadata lacks a field.
  std::map<std::string, std::string> meta;
  std::vector<NamedTensor> tensors = read_safetensors(t.file("s.safetensors"), &meta);
  meta.erase("best_epoch");
  write_safetensors(t.file("broken.safetensors"), tensors, meta);
  expect_error([&] { peek_training_state(t.file("broken.safetensors")); }, {"lacks 'best_epoch'"});
}
