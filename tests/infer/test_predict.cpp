// Tests of infer/predict.h: the float32 running mean worked by hand, flip TTA and the checkpoint
// ensemble against the direct computation of infer_testing.cpp, loading errors naming the file, and the
// ensemble's CUDA graphs (no host read in a forward pass; on a GPU, the same bits as without).
#include "infer/predict.h"

#include <cstring>

#include "engine/counters.h"
#include "layers/conv_bn.h"
#include "layers/state_dict.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/infer/infer_testing.h"
#include "data/augment/normalize.h"
#include "data/resize.h"

using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

namespace {

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
}

// A CPU float32 [N, 3, S, S] batch of the images, resized and normalised.
Tensor batch_of(const std::vector<TestImage>& images, int64_t S, augment::Normalization norm) {
  Tensor x = Tensor::empty({static_cast<int64_t>(images.size()), 3, S, S}, DType::kFloat32);
  for (size_t i = 0; i < images.size(); ++i)
    augment::write_image_chw(data::resize_bilinear(images[i].pixels, S, S), norm,
                             x.data<float>() + static_cast<int64_t>(i) * 3 * S * S);
  return x;
}

}  // namespace

TEST_CASE("infer: the running mean rounds each step to float32, as the reference's numpy maps") {
  // numpy 1.26: m = float32[0.1, 0.5, 0.7], p = float32[0.2, 0.8, 0.35];
  // (m*1 + p)/2 -> bits 1041865114 1059481190 1057384038, (m*2 + p)/3 -> 1040746633 1058642329 1058362709.
  // The middle one of the second step is 0.59999996 in float32 steps but 0.6000000238 when computed in
  // double and rounded once: the test tells the two apart.
  const float m0[3] = {0.1f, 0.5f, 0.7f}, p[3] = {0.2f, 0.8f, 0.35f};
  float mean[3];
  running_mean_step(mean, m0, 3, 0);  // i == 0 copies
  for (int k = 0; k < 3; ++k) CHECK(bits(mean[k]) == bits(m0[k]));
  running_mean_step(mean, p, 3, 1);
  CHECK(bits(mean[0]) == 1041865114u);
  CHECK(bits(mean[1]) == 1059481190u);
  CHECK(bits(mean[2]) == 1057384038u);
  std::memcpy(mean, m0, sizeof(mean));
  running_mean_step(mean, p, 3, 2);
  CHECK(bits(mean[0]) == 1040746633u);
  CHECK(bits(mean[1]) == 1058642329u);
  CHECK(bits(mean[2]) == 1058362709u);
  expect_error([&] { running_mean_step(mean, p, 3, -1); }, {"[running_mean_step]"});
}

TEST_CASE("infer: the checkpoint ensemble equals the direct computation (flip TTA, mean of 2 checkpoints)") {
  TempDir dir;
  std::vector<std::shared_ptr<Model>> models{save_test_albunet(dir.file("w1.safetensors"), 1),
                                             save_test_albunet(dir.file("w2.safetensors"), 2)};
  const std::vector<TestImage> images = write_png_inputs(dir.file("png"));
  const int64_t S = 64;
  const CheckpointEnsemble ensemble("albunet", {dir.file("w1.safetensors"), dir.file("w2.safetensors")},
                                    Device::cpu());
  CHECK(ensemble.size() == 2);
  CHECK(ensemble.input_multiple() == 64);
  for (bool flip : {false, true}) {
    CAPTURE(flip);
    for (const TestImage& image : images) {
      CAPTURE(image.image_id);
      const Tensor got = ensemble.predict(batch_of({image}, S, augment::Normalization::kUnit), flip);
      REQUIRE(got.shape() == Shape({1, S, S}));
      // The ensemble alone keeps the convolutions exact (run_inference asks for Winograd, not it).
      const Tensor want = expected_map(models, image.pixels, S, flip, augment::Normalization::kUnit, true);
      // Same kernels, same order of operations, batch of one: the same bits.
      CHECK(std::memcmp(got.data<float>(), want.data<float>(), static_cast<size_t>(S * S) * 4) == 0);
    }
  }
  // The maps are real probabilities that the flip changes (a flip-invariant model would hide a missing TTA).
  const Tensor plain = ensemble.predict(batch_of({images[0]}, S, augment::Normalization::kUnit), false);
  const Tensor tta = ensemble.predict(batch_of({images[0]}, S, augment::Normalization::kUnit), true);
  double diff = 0, lo = 1, hi = 0;
  for (int64_t k = 0; k < S * S; ++k) {
    diff = std::max(diff, std::abs(double(plain.data<float>()[k]) - tta.data<float>()[k]));
    lo = std::min(lo, double(plain.data<float>()[k]));
    hi = std::max(hi, double(plain.data<float>()[k]));
  }
  CHECK(diff > 1e-4);
  CHECK(lo > 0.0);
  CHECK(hi < 1.0);
  // Imagenet normalisation reaches the model too.
  const Tensor imagenet = ensemble.predict(batch_of({images[0]}, S, augment::Normalization::kImagenet), false);
  const Tensor want = expected_map(models, images[0].pixels, S, false, augment::Normalization::kImagenet, true);
  CHECK(std::memcmp(imagenet.data<float>(), want.data<float>(), static_cast<size_t>(S * S) * 4) == 0);
}

TEST_CASE("infer: a batch of three gives each image's map of a batch of one") {
  TempDir dir;
  save_test_albunet(dir.file("w1.safetensors"), 3);
  const std::vector<TestImage> images = write_png_inputs(dir.file("png"));
  const CheckpointEnsemble ensemble("albunet", {dir.file("w1.safetensors")}, Device::cpu());
  const Tensor all = ensemble.predict(batch_of(images, 64, augment::Normalization::kUnit), true);
  for (size_t i = 0; i < images.size(); ++i) {
    const Tensor one = ensemble.predict(batch_of({images[i]}, 64, augment::Normalization::kUnit), true);
    // The CPU kernels split work by image, never across the batch: the same bits.
    CHECK(std::memcmp(all.data<float>() + i * 64 * 64, one.data<float>(), 64 * 64 * 4) == 0);
  }
}

TEST_CASE("infer: loading checkpoints: missing files and files of another model name the file") {
  TempDir dir;
  expect_error([&] { CheckpointEnsemble("albunet", {dir.file("absent.safetensors")}, Device::cpu()); },
               {"absent.safetensors"});
  Tensor t = Tensor::zeros({3});
  save_state_dict(dir.file("other.safetensors"), {{"head.weight", &t}});
  expect_error([&] { CheckpointEnsemble("albunet", {dir.file("other.safetensors")}, Device::cpu()); },
               {"[load_state_dict]", "other.safetensors", "does not match the model", "unexpected in the file",
                "head.weight"});
  expect_error([&] { CheckpointEnsemble("albunet", {}, Device::cpu()); }, {"no checkpoint"});
  expect_error([&] { CheckpointEnsemble("unet9", {dir.file("other.safetensors")}, Device::cpu()); }, {"unet9"});
}

TEST_CASE("infer: a model's forward pass in inference reads nothing on the host (so a CUDA graph can hold it)") {
  // Counted by the tensor API on every device (engine/counters.h): what would stop a capture on a GPU.
  TempDir dir;
  const std::vector<TestImage> images = write_png_inputs(dir.file("png"));
  for (const char* name : {"albunet", "resnet50_unet", "scse_unet"}) {
    CAPTURE(name);
    std::shared_ptr<Model> model = make_model(name, 0);
    model->eval();
    fold_batch_norms(*model);
    const Tensor x = batch_of({images[0]}, 64, augment::Normalization::kUnit);
    const int64_t before = engine_counters().host_reads;
    const std::vector<Tensor> p = device_probabilities(*model, x, true);
    CHECK(engine_counters().host_reads == before);
    CHECK(p.size() == 2);
  }
}

TEST_CASE("infer: with cuda_graphs on the CPU the ensemble computes the same maps (nothing is captured)") {
  TempDir dir;
  save_test_albunet(dir.file("w1.safetensors"), 4);
  const std::vector<TestImage> images = write_png_inputs(dir.file("png"));
  const CheckpointEnsemble plain("albunet", {dir.file("w1.safetensors")}, Device::cpu());
  const CheckpointEnsemble graphs("albunet", {dir.file("w1.safetensors")}, Device::cpu(), true);
  const Tensor x = batch_of({images[0]}, 64, augment::Normalization::kUnit);
  CHECK(graphs.predict(x, true).to_vector() == plain.predict(x, true).to_vector());
}

TEST_CASE("infer: with cuda_graphs the ensemble's maps on a GPU are those without, bit for bit" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  TempDir dir;
  save_test_albunet(dir.file("w1.safetensors"), 5);
  save_test_albunet(dir.file("w2.safetensors"), 6);
  const std::vector<std::string> files{dir.file("w1.safetensors"), dir.file("w2.safetensors")};
  const std::vector<TestImage> images = write_png_inputs(dir.file("png"));
  std::vector<std::string> notes;
  const CheckpointEnsemble plain("albunet", files, Device::cuda());
  const CheckpointEnsemble graphs("albunet", files, Device::cuda(), true,
                                  [&](const std::string& n) { notes.push_back(n); });
  const int64_t launches_before = engine_counters().graph_launches;
  // Four batches of one shape (warm-up, capture, two replays) with flip TTA, then one without flip.
  for (size_t k = 0; k < 4; ++k) {
    CAPTURE(k);
    const Tensor x = batch_of({images[k % images.size()]}, 64, augment::Normalization::kUnit);
    CHECK(graphs.predict(x, true).to_vector() == plain.predict(x, true).to_vector());
  }
  const Tensor x = batch_of({images[0]}, 64, augment::Normalization::kUnit);
  CHECK(graphs.predict(x, false).to_vector() == plain.predict(x, false).to_vector());
  CHECK(notes.empty());
  CHECK(engine_counters().graph_launches - launches_before == 2 * 3);  // two checkpoints, three replays each
}
