// Tests of the engine's counters (engine/counters.h): host reads counted by the tensor API on every
// device, device counts zero on the CPU, exact counts from several threads, and on a GPU the launches,
// cuDNN calls, copies and synchronisations of known operations.
#include "engine/counters.h"

#include <thread>
#include <vector>

#include "engine/cuda_runtime.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/relu.h"
#include "engine/precision.h"
#include "engine/tensor.h"
#include "tests/testing.h"

using namespace pleura;

TEST_CASE("counters: item, to_vector and to(cpu) each count one host read on the CPU") {
  const Tensor t = testing::random_tensor({2, 3}, 11, DType::kFloat32);
  const Tensor one = testing::random_tensor({1}, 12, DType::kFloat32);
  reset_engine_counters();
  CHECK(engine_counters().host_reads == 0);
  (void)one.item();
  CHECK(engine_counters().host_reads == 1);
  (void)t.to_vector();
  CHECK(engine_counters().host_reads == 2);
  (void)t.to(Device::cpu());
  CHECK(engine_counters().host_reads == 3);
  (void)t.to(DType::kFloat64);  // a conversion on the host, no read of device values
  (void)t.clone();
  CHECK(engine_counters().host_reads == 3);
  reset_engine_counters();
  CHECK(engine_counters().host_reads == 0);
}

TEST_CASE("counters: CPU ops make no device counts") {
  const Tensor x = testing::random_tensor({1, 3, 8, 8}, 21, DType::kFloat32);
  const Tensor w = testing::random_tensor({4, 3, 3, 3}, 22, DType::kFloat32);
  const Tensor b = testing::random_tensor({4}, 23, DType::kFloat32);
  const EngineCounters before = engine_counters();
  const Tensor y = relu(conv2d(x, w, b, {1, 1, 1, 1}));
  Tensor y16;
  {
    const PrecisionScope bf16(Precision::kBFloat16);  // rounding on the CPU; no library runs
    y16 = conv2d(x, w, b, {1, 1, 1, 1});
  }
  const EngineCounters d = counters_between(before, engine_counters());
  CHECK(d.kernel_launches == 0);
  CHECK(d.library_calls == 0);
  CHECK(d.bf16_library_calls == 0);
  CHECK(d.host_syncs() == 0);
  CHECK(d.device_operations() == 0);
  CHECK(y.numel() == 4 * 64);
  CHECK(y16.numel() == 4 * 64);
}

TEST_CASE("counters: counts from several threads add up exactly") {
  reset_engine_counters();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([] {
      for (int i = 0; i < 10000; ++i) count(Counter::kKernelLaunch);
      for (int i = 0; i < 2500; ++i) count(Counter::kSynchronization);
    });
  }
  for (auto& th : threads) th.join();
  const EngineCounters c = engine_counters();
  CHECK(c.kernel_launches == 40000);
  CHECK(c.synchronizations == 10000);
  CHECK(c.host_syncs() == 10000);
  CHECK(c.device_operations() == 40000);
  reset_engine_counters();
}

TEST_CASE("counters: counters_between subtracts field by field") {
  EngineCounters a, b;
  a.host_reads = 3;
  a.kernel_launches = 10;
  a.device_frees = 1;
  b.host_reads = 7;
  b.kernel_launches = 25;
  b.device_frees = 4;
  b.library_calls = 2;
  a.bf16_library_calls = 1;
  b.bf16_library_calls = 2;
  const EngineCounters d = counters_between(a, b);
  CHECK(d.host_reads == 4);
  CHECK(d.kernel_launches == 15);
  CHECK(d.device_frees == 3);
  CHECK(d.library_calls == 2);
  CHECK(d.bf16_library_calls == 1);
  CHECK(d.host_syncs() == 3);
  CHECK(d.device_operations() == 17);
}

TEST_CASE("counters: CUDA launches, cuDNN calls, copies and synchronisations" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Device gpu = Device::cuda(0);
  const Tensor x = testing::random_tensor({1, 3, 8, 8}, 31, DType::kFloat32).to(gpu);
  const Tensor w = testing::random_tensor({4, 3, 3, 3}, 32, DType::kFloat32).to(gpu);
  const Tensor b = testing::random_tensor({4}, 33, DType::kFloat32).to(gpu);
  cuda::synchronize(0);

  EngineCounters before = engine_counters();
  const Tensor r = relu(x);
  EngineCounters d = counters_between(before, engine_counters());
  CHECK(d.kernel_launches == 1);
  CHECK(d.host_syncs() == 0);

  before = engine_counters();
  const Tensor y = conv2d(x, w, b, {1, 1, 1, 1});
  d = counters_between(before, engine_counters());
  CHECK(d.library_calls == 1);   // cudnnConvolutionForward
  CHECK(d.kernel_launches == 1);  // the bias

  before = engine_counters();
  (void)y.to_vector();
  d = counters_between(before, engine_counters());
  CHECK(d.host_reads == 1);
  CHECK(d.device_to_host_copies == 1);

  before = engine_counters();
  cuda::synchronize(0);
  (void)r.to(gpu);  // no copy: same device
  d = counters_between(before, engine_counters());
  CHECK(d.synchronizations == 1);
  CHECK(d.host_reads == 0);
  CHECK(d.copies_and_fills == 0);
}
