// Tests of model_flops / train_step_flops (models/registry.h): each model's count against an independent
// count from the reference key shapes (tests/fixtures/reference/keys_*.txt) and each layer's stride worked
// out by hand from the architectures, at 256, 1024 and a non-square size; the scaling from the probe size
// against a second counted forward; the 3x-forward training step against an earlier estimate; bad sizes.
#include <cmath>

#include "engine/autograd.h"
#include "layers/flops.h"
#include "models/registry.h"
#include "tests/layers/reference_keys.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// The total stride s of the convolution that owns weight `key` (its output map is H/s x W/s), read off
// models/albunet.cpp: the 7x7/s2 stem, a 2x2 pool, layer1..4 at 4..32, the center after one more pool at
// 64 upsampled to 32, then each decoder block upsamples x2.
int64_t albunet_stride(const std::string& key) {
  if (starts(key, "encoder.conv1.")) return 2;
  if (starts(key, "encoder.layer")) return int64_t{2} << (key[13] - '0');  // layerN: 2^(N+1)
  const std::pair<const char*, int64_t> decoder[] = {{"center.", 32}, {"dec5.", 16}, {"dec4.", 8}, {"dec3.", 4},
                                                     {"dec2.", 2},    {"dec1.", 1},  {"dec0.", 1}, {"final.", 1}};
  for (const auto& [prefix, stride] : decoder)
    if (starts(key, prefix)) return stride;
  FAIL("no stride for ", key);
  return 0;
}

// The same for selim_sef's UNets (models/selim_unet.cpp): stage 0 at 2, stage 1 (pool, layer1) at 4,
// stage N = 2..4 at 2^(N+1) except its first block's conv1, which runs before the strided 3x3 conv2 (at
// 2^N); bottlenecks.0..3 at 16..2, decoder_stages.0..3 at 2..16, last_upsample and final at 1.
int64_t selim_stride(const std::string& key) {
  if (starts(key, "encoder_stages.")) {
    const int n = key[15] - '0';
    if (n == 0) return 2;
    if (n == 1) return 4;
    return starts(key.substr(17), "0.conv1.") ? int64_t{1} << n : int64_t{2} << n;
  }
  if (starts(key, "bottlenecks.")) return int64_t{16} >> (key[12] - '0');
  if (starts(key, "decoder_stages.")) return int64_t{2} << (key[15] - '0');
  if (starts(key, "last_upsample.") || starts(key, "final.")) return 1;
  FAIL("no stride for ", key);
  return 0;
}

struct IndependentCount {
  int64_t total = 0;     // one image's forward at H x W
  int64_t constant = 0;  // of which the SE gates' fc1 / fc2 on pooled vectors
};

// Every 4-D weight of the reference key list (not an alias, not AlbuNet's unused classifier) is a
// convolution [K, C/groups, R, S]: 2 * K * C/groups * R * S per output element.
IndependentCount count_from_keys(const std::string& reference, int64_t H, int64_t W) {
  IndependentCount c;
  for (const ReferenceKey& k : read_reference_keys(reference)) {
    if (!k.alias_of.empty() || k.shape.ndim() != 4 || starts(k.name, "encoder.fc.")) continue;
    const int64_t per_output = 2 * k.shape[0] * k.shape[1] * k.shape[2] * k.shape[3];
    if (k.name.find(".fc1.") != std::string::npos || k.name.find(".fc2.") != std::string::npos) {
      c.constant += per_output;
      continue;
    }
    const int64_t s = reference == "albunet" ? albunet_stride(k.name) : selim_stride(k.name);
    c.total += per_output * (H / s) * (W / s);
  }
  c.total += c.constant;
  return c;
}

struct Case {
  const char* model;
  const char* reference;
  double estimate_tflop;  // an earlier analysis: a training step at batch 4, 1024 x 1024, one decimal
};
const Case kCases[] = {
    {"albunet", "albunet", 12.1}, {"resnet50_unet", "resnet50", 6.7}, {"scse_unet", "scseunet", 6.9}};

}  // namespace

TEST_CASE("model_flops: each model's count is the count from its reference key shapes, at 256, 1024 and 256x512") {
  for (const Case& c : kCases) {
    INFO(std::string(c.model));
    for (const auto& [H, W] : {std::pair<int64_t, int64_t>{256, 256}, {1024, 1024}, {256, 512}})
      CHECK_MESSAGE(model_flops(c.model, H, W) == count_from_keys(c.reference, H, W).total, H, "x", W);
    // 1024 x 1024 has 16 times the area of 256 x 256: 16 times the count, but for the SE gates, which
    // do not grow (the SCSE-UNet's).
    const int64_t constant = count_from_keys(c.reference, 256, 256).constant;
    CHECK(model_flops(c.model, 1024, 1024) == 16 * model_flops(c.model, 256, 256) - 15 * constant);
    CHECK((std::string(c.model) == "scse_unet") == (constant > 0));
    MESSAGE(std::string(c.model), ": ", model_flops(c.model, 1024, 1024) / 1e9,
            " GFLOP per 1024x1024 forward, training step at batch 4: ", train_step_flops(c.model, 1024, 1024, 4) / 1e12,
            " TFLOP");
  }
}

TEST_CASE("model_flops: scaled from the probe size, it is what a forward at another size counts") {
  for (const Case& c : kCases) {
    INFO(std::string(c.model));
    const ModelSpec& spec = model_spec(c.model);
    const int64_t H = spec.input_multiple, W = 2 * spec.input_multiple;
    std::shared_ptr<Model> model = make_model(c.model, 4);
    model->eval();
    NoGradGuard no_grad;
    FlopTally tally;
    model->forward(Tensor::ones({1, 3, H, W}));
    CHECK(flops_total(tally.terms()) == model_flops(c.model, H, W));
  }
}

TEST_CASE("train_step_flops: 3x the forward per image; at batch 4, 1024x1024 as an earlier estimate had it") {
  for (const Case& c : kCases) {
    INFO(std::string(c.model));
    CHECK(train_step_flops(c.model, 512, 256, 3) == 9 * model_flops(c.model, 512, 256));
    // The estimate quotes one decimal: 12.13, 6.75 and 6.89 TFLOP round to it.
    CHECK(std::fabs(train_step_flops(c.model, 1024, 1024, 4) / 1e12 - c.estimate_tflop) < 0.05);
  }
}

TEST_CASE("model_flops: sizes that are not multiples, unknown models and bad batches are refused") {
  expect_error([] { model_flops("albunet", 96, 128); },
               {"[model_flops] albunet: input size 96x128", "positive multiples of 64"});
  expect_error([] { model_flops("scse_unet", 0, 32); }, {"input size 0x32"});
  expect_error([] { model_flops("unet", 256, 256); }, {"[model_flops] unknown model 'unet'; known models: albunet"});
  expect_error([] { train_step_flops("albunet", 256, 256, 0); }, {"[train_step_flops] batch 0 must be >= 1"});
}
