// Tests of copy_tensors (engine/ops/copy_tensors.h): values of several dtypes and sizes copied, sources
// untouched, no host read, bad input, CPU-vs-CUDA (gpu suite). No autograd, so no gradient check.
#include "engine/ops/copy_tensors.h"

#include "engine/counters.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("copy_tensors: each source into its destination, whatever the dtype; no host read") {
  const std::vector<Tensor> src = {random_tensor({3, 5}, 11, DType::kFloat32), random_tensor({20000}, 12),
                                   Tensor::from_vector({7, -3}, {2}, DType::kInt64)};
  std::vector<Tensor> dst;
  for (const Tensor& s : src) dst.push_back(Tensor::zeros(s.shape(), s.dtype()));
  const std::vector<double> before = src[1].to_vector();
  const EngineCounters c0 = engine_counters();
  copy_tensors(src, dst);
  CHECK(counters_between(c0, engine_counters()).host_reads == 0);
  for (size_t i = 0; i < src.size(); ++i) CHECK(dst[i].to_vector() == src[i].to_vector());
  CHECK(src[1].to_vector() == before);
  CHECK_FALSE(dst[0].same_data(src[0]));
  std::vector<Tensor> none;
  copy_tensors({}, none);  // nothing to do
}

TEST_CASE("copy_tensors: bad input") {
  std::vector<Tensor> one = {Tensor::zeros({2})};
  expect_error([&] { copy_tensors({}, one); }, {"[copy_tensors]", "0 sources but 1 destinations"});
  expect_error([&] { copy_tensors({Tensor::zeros({3})}, one); }, {"[copy_tensors]", "[3]", "[2]"});
  expect_error([&] { copy_tensors({Tensor::zeros({2}, DType::kFloat64)}, one); }, {"[copy_tensors]", "float64"});
}

TEST_CASE("copy_tensors: CPU and CUDA copy the same bytes" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  std::vector<Tensor> src, dst;
  for (int i = 0; i < 30; ++i) {  // two lists of pairs; some over several chunks
    src.push_back(random_tensor({i % 5 == 0 ? 40000 : 17 + i}, 20 + static_cast<uint64_t>(i), DType::kFloat32).to(Device::cuda()));
    dst.push_back(Tensor::zeros(src.back().shape(), DType::kFloat32, Device::cuda()));
  }
  copy_tensors(src, dst);
  for (size_t i = 0; i < src.size(); ++i) CHECK(dst[i].to_vector() == src[i].to_vector());
}
