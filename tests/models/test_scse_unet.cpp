// ScseUnet (models/scse_unet.h): output shapes, the multiple-of-32 rule, a 1024x1024 forward, a float64
// gradient check of the whole model and CPU-vs-CUDA parity. Keys and counts: test_structure.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "models/scse_unet.h"
#include "tests/models/model_checks.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("scse_unet: output shapes at 64 and 96, and the multiple-of-32 error") {
  auto model = make_model("scse_unet", 31);
  CHECK(model->input_multiple() == 32);
  check_output_shapes(*model, {64, 96});
  check_size_errors(*model);
}

TEST_CASE("scse_unet: 1024x1024 forward in eval mode") {
  auto model = make_model("scse_unet", 32);
  model->eval();
  NoGradGuard no_grad;
  Tensor y = model->forward(random_tensor({1, 3, 1024, 1024}, 33, DType::kFloat32, 0, 1));
  CHECK(y.shape() == Shape{1, 1, 1024, 1024});
  for (double v : y.to_vector()) REQUIRE(std::isfinite(v));
}

TEST_CASE("scse_unet: float64 gradient check of the whole model (batch norm in training mode)") {
  // Steps: 1e-6, and 1e-7 for the first conv, which moves every activation the most (model_checks.cpp).
  gradcheck_model("scse_unet",
                  {{1e-6, true,
                    {"encoder_stages.2.0.conv2.weight", "encoder_stages.1.1.0.se_module.fc2.bias",
                     "encoder_stages.4.0.bn3.weight", "bottlenecks.1.seq.2.spatial_se.0.weight",
                     "bottlenecks.2.seq.2.fc1.weight", "decoder_stages.2.layer.1.weight"}},
                   {1e-7, false, {"encoder_stages.0.conv1.weight"}}},
                  64, 2);
}

TEST_CASE("scse_unet: CPU vs CUDA forward and backward at 128x128" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_model_parity("scse_unet",
                     {"encoder_stages.0.conv1.weight", "encoder_stages.2.0.conv2.weight",
                      "encoder_stages.3.1.se_module.fc1.weight", "bottlenecks.0.seq.2.spatial_se.0.weight",
                      "bottlenecks.2.seq.2.fc2.bias", "final.0.weight"}, 128);
}
