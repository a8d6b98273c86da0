// AlbuNet (models/albunet.h): output shapes, the multiple-of-64 rule, a 1024x1024 forward, a float64
// gradient check of the whole model and CPU-vs-CUDA parity. Keys and counts: test_structure.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "models/albunet.h"
#include "tests/models/model_checks.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("albunet: output shapes at 64 and 128, and the multiple-of-64 error") {
  auto model = make_model("albunet", 11);
  CHECK(model->input_multiple() == 64);
  check_output_shapes(*model, {64, 128});
  check_size_errors(*model);
}

TEST_CASE("albunet: 1024x1024 forward in eval mode") {
  auto model = make_model("albunet", 12);
  model->eval();
  NoGradGuard no_grad;
  Tensor y = model->forward(random_tensor({1, 3, 1024, 1024}, 13, DType::kFloat32, 0, 1));
  CHECK(y.shape() == Shape{1, 1, 1024, 1024});
  for (double v : y.to_vector()) REQUIRE(std::isfinite(v));
}

TEST_CASE("albunet: float64 gradient check of the whole model (batch norm in training mode)") {
  // Steps: 1e-6, and 1e-7 for the first conv, which moves every activation the most (model_checks.cpp).
  gradcheck_model("albunet",
                  {{1e-6, true,
                    {"encoder.bn1.bias", "encoder.layer1.1.bn1.weight", "encoder.layer2.0.downsample.0.weight",
                     "encoder.layer4.2.bn2.bias", "center.block.1.conv.weight", "dec4.block.2.conv.bias"}},
                   {1e-7, false, {"encoder.conv1.weight"}}},
                  64, 2);
}

TEST_CASE("albunet: CPU vs CUDA forward and backward at 128x128" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  check_model_parity("albunet",
                     {"encoder.conv1.weight", "encoder.layer3.0.bn1.weight", "center.block.1.conv.weight",
                      "dec1.block.2.conv.bias", "final.weight"}, 128);
}
