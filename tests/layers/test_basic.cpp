// Tests of the parameterless layers (layers/basic.h): each equals its engine op, has no state, and keeps
// its place in a Sequential's numbering.
#include "layers/basic.h"

#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("ReLU, Sigmoid, MaxPool2d, Upsample: worked values and equality with their ops") {
  Tensor x = Tensor::from_vector({-1, 2, 0.5, -3}, {1, 1, 2, 2});
  CHECK(ReLU().forward(x).to_vector() == std::vector<double>{0, 2, 0.5, 0});
  CHECK(MaxPool2d(2, 2).forward(x).to_vector() == std::vector<double>{2});
  // Nearest x2 repeats each value in a 2x2 square.
  CHECK(Upsample(UpsampleMode::kNearest).forward(x).to_vector() ==
        std::vector<double>{-1, -1, 2, 2, -1, -1, 2, 2, 0.5, 0.5, -3, -3, 0.5, 0.5, -3, -3});
  Tensor r = random_tensor({2, 3, 7, 6}, 31, DType::kFloat32, -4, 4);
  expect_close(Sigmoid().forward(r), sigmoid(r), 0, 0, "Sigmoid");
  MaxPool2d pool(3, 2, 0, true);
  expect_close(pool.forward(r), max_pool2d(r, {3, 3, 2, 2, 0, 0, true}), 0, 0, "MaxPool2d 3/2/0 ceil");
  CHECK(pool.forward(r).shape() == Shape{2, 3, 3, 3});
  expect_close(Upsample(UpsampleMode::kBilinear).forward(r), upsample2x(r, UpsampleMode::kBilinear), 0, 0, "Upsample");
}

TEST_CASE("parameterless layers hold no state but take an index in a Sequential") {
  Sequential seq;
  seq.append(std::make_shared<MaxPool2d>(3, 2, 1));
  seq.append(std::make_shared<ReLU>());
  seq.append(std::make_shared<Upsample>(UpsampleMode::kNearest));
  CHECK(seq.state_dict_slots().empty());
  CHECK(seq.size() == 3);
  std::vector<std::string> names;
  for (auto& [name, m] : seq.named_modules()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"", "0", "1", "2"});
  Tensor x = random_tensor({1, 2, 8, 8}, 32, DType::kFloat32);
  CHECK(seq.forward(x).shape() == Shape{1, 2, 8, 8});
}
