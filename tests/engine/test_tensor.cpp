// Tests of engine/tensor.h: construction, dtypes, copies, views, devices, and the CUDA error paths.
#include "engine/tensor.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/cuda_runtime.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("tensor: shape, dtype, device and element access") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {1, 2, 3, 1});
  CHECK(t.ndim() == 4);
  CHECK(t.numel() == 6);
  CHECK(t.size(1) == 2);
  CHECK(t.size(-2) == 3);
  CHECK(t.dtype() == DType::kFloat32);
  CHECK(t.device() == Device::cpu());
  CHECK(t.nbytes() == 24);
  CHECK(t.data<float>()[4] == 5.0f);
  CHECK(describe(t) == "float32[1, 2, 3, 1] on cpu");
  expect_error([&] { t.data<double>(); }, {"data<float64>", "float32"});
  expect_error([&] { t.size(4); }, {"dim 4 out of range"});
}

TEST_CASE("tensor: zeros, full, clone, conversions") {
  Tensor z = Tensor::zeros({2, 3}, DType::kFloat64);
  for (double v : z.to_vector()) CHECK(v == 0.0);
  Tensor f = Tensor::full({4}, 2.5, DType::kFloat32);
  CHECK(f.to_vector() == std::vector<double>{2.5, 2.5, 2.5, 2.5});
  Tensor c = f.clone();
  c.data<float>()[0] = 7.0f;
  CHECK(f.data<float>()[0] == 2.5f);  // clone copies the data
  Tensor shared = f;
  shared.data<float>()[1] = 9.0f;
  CHECK(f.data<float>()[1] == 9.0f);  // copies of a Tensor share it
  Tensor i = Tensor::from_vector({-1.75, 2.25, 255.0}, {3}, DType::kFloat64).to(DType::kInt64);
  CHECK(i.to_vector() == std::vector<double>{-1, 2, 255});  // truncation toward zero, as a C++ cast
  Tensor u = Tensor::from_vector({0, 128, 255}, {3}, DType::kUInt8).to(DType::kFloat32);
  CHECK(u.to_vector() == std::vector<double>{0, 128, 255});
  CHECK(Tensor::from_vector({3.5}, {}).item() == 3.5);
  expect_error([] { Tensor::from_vector({1, 2, 3}, {2, 2}); }, {"3 values given", "[2, 2]"});
  // Integer dtypes take only values they can hold (the conversion would be undefined behaviour; UBSan
  // found it in a fuzz seed).
  expect_error([] { Tensor::from_vector({1, -3}, {2}, DType::kUInt8); }, {"value -3 at index 1 does not fit", "uint8"});
  expect_error([] { Tensor::from_vector({256}, {1}, DType::kUInt8); }, {"value 256", "does not fit"});
  expect_error([] { Tensor::from_vector({NAN}, {1}, DType::kInt64); }, {"value nan", "int64"});
  CHECK(Tensor::from_vector({255, 0}, {2}, DType::kUInt8).data<uint8_t>()[0] == 255);
  expect_error([] { Tensor::from_vector({1, 2}, {2}).item(); }, {"[item]", "one-element"});
}

TEST_CASE("tensor: view shares data and refuses a wrong size or a tensor on the tape") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = t.view({3, 2});
  v.data<float>()[5] = 60.0f;
  CHECK(t.data<float>()[5] == 60.0f);
  expect_error([&] { t.view({4, 2}); }, {"[view]", "[4, 2]"});
  Tensor g = Tensor::from_vector({1, 2}, {2}).set_requires_grad(true);
  expect_error([&] { g.view({1, 2}); }, {"[view]", "reshape"});
  NoGradGuard no_grad;
  CHECK(g.view({1, 2}).numel() == 2);  // fine outside the tape
}

TEST_CASE("tensor: undefined tensors and bad shapes give clear errors") {
  Tensor u;
  CHECK_FALSE(u.defined());
  expect_error([&] { (void)u.shape(); }, {"undefined tensor"});
  expect_error([] { Shape({2, -1}); }, {"negative size"});
  expect_error([] { Shape({1, 1, 1, 1, 1, 1, 1, 1, 1}); }, {"9 dimensions"});
  // Sizes whose product does not fit a 64-bit count, even beside a 0 (a fuzzed .npy reached numel()'s
  // signed overflow that way); a 0 dimension with sane others is an empty tensor.
  expect_error([] { Shape({44, 322231232223132811, 0}); }, {"[shape] sizes [44, 322231232223132811]...",
                                                            "multiply past a 64-bit element count"});
  CHECK(Shape({1000000, 0, 1000000}).numel() == 0);
  CHECK(Shape({3037000499, 3037000499}).numel() == 9223372030926249001);
  expect_error([] { Device::parse("gpu"); }, {"cannot parse device 'gpu'"});
  CHECK(Device::parse("cuda:1") == Device::cuda(1));
  CHECK(Device::parse("cpu").str() == "cpu");
}

TEST_CASE("tensor: asking for CUDA without a device gives one clear error") {
  if (cuda::device_count() > 0) return;  // covered by the gpu cases instead
  std::string expected = cuda::built() ? "no CUDA device available" : "built without CUDA";
  expect_error([] { Tensor::empty({2, 2}, DType::kFloat32, Device::cuda()); }, {expected});
  expect_error([] { Tensor::zeros({2}).to(Device::cuda()); }, {expected});
}

TEST_CASE("tensor: host <-> CUDA copies round-trip" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  INFO(cuda::describe_device(0));
  Tensor h = random_tensor({3, 5, 7}, 3, DType::kFloat32);
  Tensor d = h.to(Device::cuda());
  CHECK(d.device().is_cuda());
  Tensor d2 = d.clone();  // device to device
  Tensor back = d2.to(Device::cpu());
  CHECK(back.to_vector() == h.to_vector());
  Tensor ones = Tensor::ones({1000}, DType::kFloat32, Device::cuda());
  for (double v : ones.to_vector()) REQUIRE(v == 1.0);
  Tensor zeros = Tensor::zeros({1000}, DType::kFloat32, Device::cuda());
  for (double v : zeros.to_vector()) REQUIRE(v == 0.0);
  expect_error([] { Tensor::empty({2}, DType::kFloat32, Device::cuda(99)); }, {"no CUDA device available", "cuda:99"});
}

TEST_CASE("tensor: caching allocator reuses blocks and counts them" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  cuda::synchronize(0);
  cuda::MemoryStats before = cuda::memory_stats(0);
  for (int step = 0; step < 5; ++step) {
    Tensor a = Tensor::empty({1 << 20}, DType::kFloat32, Device::cuda());  // 4 MiB
    Tensor b = Tensor::empty({1000}, DType::kFloat32, Device::cuda());
  }
  cuda::MemoryStats after = cuda::memory_stats(0);
  CHECK(after.num_allocs - before.num_allocs == 10);
  if (after.caching) {
    // At most the first step's two blocks come from cudaMalloc; the other eight are cache hits.
    CHECK(after.num_cuda_malloc - before.num_cuda_malloc <= 2);
    CHECK(after.num_cache_hits - before.num_cache_hits >= 8);
  } else {
    CHECK(after.num_cuda_malloc - before.num_cuda_malloc == 10);
  }
  CHECK(after.bytes_in_use == before.bytes_in_use);
  CHECK(after.peak_bytes_in_use >= (size_t(4) << 20));
}

TEST_CASE("tensor: pinned host buffers carry data to and from the device" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const int64_t n = 1 << 16;
  float* pinned = static_cast<float*>(cuda::alloc_pinned(n * sizeof(float)));
  REQUIRE(pinned != nullptr);
  for (int64_t i = 0; i < n; ++i) pinned[i] = static_cast<float>(i % 1000) * 0.5f;
  Tensor d = Tensor::empty({n}, DType::kFloat32, Device::cuda());
  cuda::copy_h2d(d.raw(), pinned, n * sizeof(float), 0);
  cuda::synchronize(0);  // the copy from pinned memory is asynchronous: wait before reusing the buffer
  std::vector<double> back = d.to_vector();
  for (int64_t i = 0; i < n; ++i) REQUIRE(back[i] == static_cast<double>(pinned[i]));
  Tensor twice = Tensor::full({n}, 3.0, DType::kFloat32, Device::cuda());
  cuda::copy_d2h(pinned, twice.raw(), n * sizeof(float), 0);
  for (int64_t i = 0; i < n; ++i) REQUIRE(pinned[i] == 3.0f);
  cuda::free_pinned(pinned);
}

TEST_CASE("tensor: pinned host buffers without a device give a clear error") {
  if (cuda::device_count() > 0) return;
  std::string expected = cuda::built() ? "no CUDA device available" : "built without CUDA";
  expect_error([] { cuda::alloc_pinned(64); }, {expected});
}
