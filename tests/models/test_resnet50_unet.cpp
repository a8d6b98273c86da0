// Resnet50Unet (models/resnet50_unet.h): output shapes, the multiple-of-32 rule, a 1024x1024 forward,
// a float64 gradient check of the whole model and CPU-vs-CUDA parity. Keys and counts:
// test_structure.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "models/resnet50_unet.h"
#include "tests/models/model_checks.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("resnet50_unet: output shapes at 64 and 96, and the multiple-of-32 error") {
  auto model = make_model("resnet50_unet", 21);
  CHECK(model->input_multiple() == 32);
  check_output_shapes(*model, {64, 96});
  check_size_errors(*model);
}

TEST_CASE("resnet50_unet: 1024x1024 forward in eval mode") {
  auto model = make_model("resnet50_unet", 22);
  model->eval();
  NoGradGuard no_grad;
  Tensor y = model->forward(random_tensor({1, 3, 1024, 1024}, 23, DType::kFloat32, 0, 1));
  CHECK(y.shape() == Shape{1, 1, 1024, 1024});
  for (double v : y.to_vector()) REQUIRE(std::isfinite(v));
}

TEST_CASE("resnet50_unet: float64 gradient check of the whole model (batch norm in training mode)") {
  // Steps: 1e-6, and 1e-7 for the first conv, which moves every activation the most (model_checks.cpp).
  gradcheck_model("resnet50_unet",
                  {{1e-6, true,
                    {"encoder_stages.0.1.bias", "encoder_stages.3.2.conv2.weight", "encoder_stages.4.0.bn3.weight",
                     "bottlenecks.0.seq.0.weight", "decoder_stages.1.layer.1.bias"}},
                   {1e-7, false, {"encoder_stages.0.0.weight"}}},
                  64, 2);
}

TEST_CASE("resnet50_unet: CPU vs CUDA forward and backward at 128x128" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_model_parity("resnet50_unet",
                     {"encoder_stages.0.0.weight", "encoder_stages.2.1.bn2.weight", "encoder_stages.4.2.conv3.weight",
                      "bottlenecks.3.seq.0.weight", "last_upsample.layer.1.bias", "final.0.weight"}, 128);
}
