// Helpers for the inference tests (see infer_testing.h).
#include "tests/infer/infer_testing.h"

#include <cmath>
#include <filesystem>

#include "engine/fast_convolutions.h"
#include "engine/autograd.h"
#include "engine/npy.h"
#include "engine/ops/sigmoid.h"
#include "engine/random.h"
#include "layers/conv_bn.h"
#include "layers/state_dict.h"
#include "tests/testing.h"
#include "data/dicom.h"
#include "data/dicom_write.h"
#include "data/image_io.h"
#include "data/resize.h"

namespace fs = std::filesystem;

namespace pleura::testing {
namespace {

// Smooth random content: a few soft blobs on a gradient plus a little noise, never constant.
GrayImage smooth_image(int64_t h, int64_t w, uint64_t seed) {
  Rng rng(seed);
  GrayImage g(h, w);
  double cx[3], cy[3], r[3], a[3];
  for (int k = 0; k < 3; ++k) {
    cx[k] = rng.uniform(0, static_cast<double>(w));
    cy[k] = rng.uniform(0, static_cast<double>(h));
    r[k] = rng.uniform(6, 20);
    a[k] = rng.uniform(-90, 90);
  }
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      double v = 60.0 + 100.0 * static_cast<double>(y) / static_cast<double>(h) + rng.uniform(-8, 8);
      for (int k = 0; k < 3; ++k) {
        const double d2 = (x - cx[k]) * (x - cx[k]) + (y - cy[k]) * (y - cy[k]);
        v += a[k] * std::exp(-d2 / (2 * r[k] * r[k]));
      }
      g.at(y, x) = static_cast<uint8_t>(std::lround(std::min(255.0, std::max(0.0, v))));
    }
  return g;
}

}  // namespace

std::shared_ptr<Model> save_test_albunet(const std::string& path, uint64_t seed) {
  std::shared_ptr<Model> model = make_model("albunet", seed);
  Rng rng(seed * 7919 + 13);
  for (auto& [name, t] : model->named_buffers()) {
    const bool mean = name.size() > 12 && name.compare(name.size() - 12, 12, "running_mean") == 0;
    const bool var = name.size() > 11 && name.compare(name.size() - 11, 11, "running_var") == 0;
    if (!mean && !var) continue;
    Tensor v = rand_uniform(t->shape(), rng, mean ? -0.2 : 0.5, mean ? 0.2 : 2.0);
    t->copy_from(v);
  }
  save_state_dict(path, model->state_dict_slots());
  model->eval();
  fold_batch_norms(*model);  // as CheckpointEnsemble runs it (infer/predict.cpp)
  return model;
}

std::vector<TestImage> write_png_inputs(const std::string& dir) {
  fs::create_directories(dir);
  std::vector<TestImage> out;
  const int64_t sizes[3][2] = {{72, 90}, {64, 64}, {100, 60}};
  const char* ids[3] = {"img_a", "img_b", "img_c"};
  for (int k = 0; k < 3; ++k) {
    TestImage t{ids[k], dir + "/" + ids[k] + ".png", smooth_image(sizes[k][0], sizes[k][1], 100 + k)};
    data::write_png_gray(t.path, t.pixels);
    out.push_back(t);
  }
  return out;
}

std::vector<TestImage> write_dicom_inputs(const std::string& dir) {
  std::vector<TestImage> out;
  const int64_t sizes[2][2] = {{80, 80}, {96, 70}};
  const char* ids[2] = {"1.2.276.0.7230010.3.1.4.1", "1.2.276.0.7230010.3.1.4.2"};
  for (int k = 0; k < 2; ++k) {
    const std::string folder = dir + "/1.2.276.0.7230010.3.1.2." + std::to_string(k) + "/1.2.276.0.7230010.3.1.3." +
                               std::to_string(k);
    fs::create_directories(folder);
    data::DicomWriteOptions options;
    options.sop_instance_uid = ids[k];
    options.study_instance_uid = "1.2.276.0.7230010.3.1.2." + std::to_string(k);
    options.series_instance_uid = "1.2.276.0.7230010.3.1.3." + std::to_string(k);
    const std::string path = folder + "/" + ids[k] + ".dcm";
    data::write_dicom_gray8(path, smooth_image(sizes[k][0], sizes[k][1], 200 + k), options);
    out.push_back({ids[k], path, data::read_dicom(path)});
  }
  return out;
}

Tensor expected_map(const std::vector<std::shared_ptr<Model>>& models, const GrayImage& image, int64_t size,
                    bool flip, augment::Normalization norm, bool exact_convolutions) {
  NoGradGuard no_grad;
  const FastInferenceConvolutionsScope winograd(!exact_convolutions);
  const GrayImage resized =
      image.height == size && image.width == size ? image : data::resize_bilinear(image, size, size);
  const Tensor x = augment::image_to_tensor(resized, norm).view({1, 3, size, size});
  // The flipped input, built by index (not with the hflip op under test elsewhere).
  Tensor xf = Tensor::empty({1, 3, size, size}, DType::kFloat32);
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < size; ++y)
      for (int64_t w = 0; w < size; ++w)
        xf.data<float>()[(c * size + y) * size + w] = x.data<float>()[(c * size + y) * size + (size - 1 - w)];
  Tensor mean = Tensor::empty({size, size}, DType::kFloat32);
  float* m = mean.data<float>();
  for (size_t i = 0; i < models.size(); ++i) {
    const Tensor p = sigmoid(models[i]->forward(x));
    std::vector<float> avg(p.data<float>(), p.data<float>() + size * size);
    if (flip) {
      const Tensor q = sigmoid(models[i]->forward(xf));
      for (int64_t y = 0; y < size; ++y)
        for (int64_t w = 0; w < size; ++w) {
          const float back = q.data<float>()[y * size + (size - 1 - w)];
          avg[static_cast<size_t>(y * size + w)] = (avg[static_cast<size_t>(y * size + w)] + back) / 2.0f;
        }
    }
    for (int64_t k = 0; k < size * size; ++k) {
      if (i == 0) {
        m[k] = avg[static_cast<size_t>(k)];
      } else {
        volatile float product = m[k] * static_cast<float>(i);  // numpy rounds the product to float32
        volatile float sum = product + avg[static_cast<size_t>(k)];
        m[k] = sum / static_cast<float>(i + 1);
      }
    }
  }
  return mean;
}

Tensor read_map_npy(const std::string& path) {
  Tensor t = read_npy(path);
  REQUIRE(t.dtype() == DType::kFloat32);
  REQUIRE(t.ndim() == 2);
  return t;
}

std::vector<std::string> temporaries_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
  return out;
}

}  // namespace pleura::testing
