// The threaded loader: shapes and order, bit-identical batches for 0, 1 and 4 workers, bad items
// (stop with the name / skip and list), prompt shutdown mid-epoch (with a timeout guard), epoch
// restarts, pinned memory (gpu suite).
#include "data/loader.h"

#include <chrono>
#include <cstring>
#include <future>
#include <thread>

#include "engine/counters.h"
#include "engine/cuda_runtime.h"
#include "engine/pinned_pool.h"
#include "tests/data/data_testing.h"
#include "tests/testing.h"
#include "data/augment/config.h"
#include "data/sampler.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

LoaderConfig small_config(int workers) {
  LoaderConfig c;
  c.batch_size = 3;
  c.num_workers = workers;
  c.prefetch_batches = 2;
  c.augment.size = 32;
  c.augment.distortion.p = 0.6;  // exercise the slow paths often
  c.seed = 42;
  return c;
}

std::vector<int64_t> order_of(int64_t n) {
  std::vector<int64_t> o(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) o[static_cast<size_t>(i)] = (i * 7) % n;
  return o;
}

std::vector<Batch> drain(Loader& loader) {
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same_bytes(const HostArray& a, const HostArray& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

}  // namespace

TEST_CASE("loader: batches come in order with shapes [B,3,S,S] and [B,1,S,S], the last one short") {
  Loader loader(synthetic_item, small_config(2));
  const std::vector<int64_t> order = order_of(10);
  loader.start_epoch(0, order);
  CHECK(loader.num_batches() == 4);
  const std::vector<Batch> batches = drain(loader);
  REQUIRE(batches.size() == 4);
  for (size_t b = 0; b < 4; ++b) {
    const int64_t n = b < 3 ? 3 : 1;
    CHECK(batches[b].index == static_cast<int64_t>(b));
    CHECK(batches[b].images.shape() == Shape{n, 3, 32, 32});
    CHECK(batches[b].masks.shape() == Shape{n, 1, 32, 32});
    CHECK(batches[b].items == std::vector<int64_t>(order.begin() + 3 * b, order.begin() + 3 * b + n));
    const Tensor t = batches[b].images.to(Device::cpu());
    CHECK(t.data<float>() == batches[b].images.data());  // pageable memory: no copy
  }
  // Values: unit-normalised images in [0, 1], masks exactly 0 or 1 (nearest resampling of 0/255).
  for (const Batch& b : batches) {
    const float* m = b.masks.data();
    for (int64_t i = 0; i < b.masks.shape().numel(); ++i) CHECK((m[i] == 0.0f || m[i] == 1.0f));
  }
  CHECK_FALSE(loader.next().has_value());
  LoaderConfig drop = small_config(1);
  drop.drop_last = true;
  Loader dropping(synthetic_item, drop);
  dropping.start_epoch(0, order);
  CHECK(drain(dropping).size() == 3);
}

TEST_CASE("loader: 0, 1 and 4 workers give bit-identical batches") {
  const std::vector<int64_t> order = order_of(23);
  std::vector<std::vector<Batch>> runs;
  for (int workers : {1, 4, 0}) {
    Loader loader(synthetic_item, small_config(workers));
    for (int64_t epoch : {0, 1}) {
      loader.start_epoch(epoch, order);
      runs.push_back(drain(loader));
    }
  }
  // runs: [1 worker e0, e1, 4 workers e0, e1, 0 workers e0, e1]
  for (size_t r : {2u, 4u}) {
    for (size_t e = 0; e < 2; ++e) {
      const std::vector<Batch>& a = runs[e];
      const std::vector<Batch>& b = runs[r + e];
      REQUIRE(a.size() == b.size());
      for (size_t k = 0; k < a.size(); ++k) {
        CHECK(a[k].items == b[k].items);
        CHECK(same_bytes(a[k].images, b[k].images));
        CHECK(same_bytes(a[k].masks, b[k].masks));
      }
    }
  }
  // Another epoch draws other augmentations of the same items.
  CHECK_FALSE(same_bytes(runs[0][0].images, runs[1][0].images));
}

TEST_CASE("loader: a bad item stops the epoch with its name, after the batches before it") {
  auto source = [](int64_t i) -> Sample {
    if (i == 13) throw std::runtime_error("cannot decode");
    return synthetic_item(i);
  };
  auto namer = [](int64_t i) { return cat("img_", i, ".dcm"); };
  for (int workers : {0, 4}) {
    Loader loader(source, small_config(workers), namer);
    std::vector<int64_t> order(20);
    for (int64_t i = 0; i < 20; ++i) order[static_cast<size_t>(i)] = i;  // item 13 sits in batch 4
    loader.start_epoch(0, order);
    for (int b = 0; b < 4; ++b) CHECK(loader.next().has_value());
    expect_error([&] { loader.next(); }, {"[loader] bad sample 13", "img_13.dcm", "position 13", "cannot decode"});
    CHECK_FALSE(loader.next().has_value());  // the epoch has ended
    loader.start_epoch(1, {0, 1, 2});        // and the loader can go on with another
    CHECK(loader.next().has_value());
  }
}

TEST_CASE("loader: skipped items are left out of their batch and listed") {
  auto source = [](int64_t i) -> Sample {
    if (i == 4 || i == 6 || i == 7 || i == 8) throw std::runtime_error(cat("unreadable ", i));
    return synthetic_item(i);
  };
  LoaderConfig c = small_config(3);
  c.on_bad_sample = BadSamplePolicy::kSkip;
  Loader loader(source, c, [](int64_t i) { return cat("n", i); });
  std::vector<int64_t> order(12);
  for (int64_t i = 0; i < 12; ++i) order[static_cast<size_t>(i)] = i;
  loader.start_epoch(2, order);
  const std::vector<Batch> batches = drain(loader);
  // Batches {0,1,2}, {3,5} (4 skipped), {6,7,8} all bad and left out, {9,10,11}.
  REQUIRE(batches.size() == 3);
  CHECK(batches[1].items == std::vector<int64_t>{3, 5});
  CHECK(batches[1].images.shape() == Shape{2, 3, 32, 32});
  CHECK(batches[2].index == 3);
  const std::vector<SkippedSample> skipped = loader.skipped();
  REQUIRE(skipped.size() == 4);
  CHECK(skipped[0].index == 4);
  CHECK(skipped[0].epoch == 2);
  CHECK(skipped[0].name == "n4");
  CHECK(skipped[0].error == "unreadable 4");
  CHECK(skipped[3].position == 8);
  // The kept items are exactly what a loader over the good items alone would give at those positions
  // (streams are keyed by position, so skipping does not shift anyone's augmentation).
  Loader clean(synthetic_item, small_config(1));
  clean.start_epoch(2, order);
  clean.next();
  const std::optional<Batch> second = clean.next();
  REQUIRE(second.has_value());
  const size_t per_image = 3 * 32 * 32;
  CHECK(std::memcmp(batches[1].images.data(), second->images.data(), per_image * sizeof(float)) == 0);
  CHECK(std::memcmp(batches[1].images.data() + per_image, second->images.data() + 2 * per_image,
                    per_image * sizeof(float)) == 0);
}

TEST_CASE("loader: destroying the loader mid-epoch joins the workers promptly") {
  auto slow = [](int64_t i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return synthetic_item(i);
  };
  auto loader = std::make_shared<Loader>(slow, small_config(4));
  loader->start_epoch(0, order_of(600));
  CHECK(loader->next().has_value());
  // Destroy on another thread, so that a deadlock fails this test instead of hanging the suite.
  auto done = std::make_shared<std::promise<void>>();  // shared: a detached thread may outlive this scope
  std::future<void> finished = done->get_future();
  const auto t0 = std::chrono::steady_clock::now();
  std::thread destroyer([l = std::move(loader), done]() mutable {
    l.reset();
    done->set_value();
  });
  const bool joined = finished.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  if (joined) {
    destroyer.join();
  } else {
    destroyer.detach();  // leave it: the failure below is the report
  }
  REQUIRE(joined);
  // Workers stop between items: well under a second (each item takes about 20 ms here).
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
}

TEST_CASE("loader: starting a new epoch abandons the old one and matches a fresh loader") {
  Loader loader(synthetic_item, small_config(4));
  loader.start_epoch(0, order_of(30));
  CHECK(loader.next().has_value());
  loader.start_epoch(1, order_of(12));
  const std::vector<Batch> resumed = drain(loader);
  Loader fresh(synthetic_item, small_config(2));
  fresh.start_epoch(1, order_of(12));
  const std::vector<Batch> want = drain(fresh);
  REQUIRE(resumed.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    CHECK(resumed[k].epoch == 1);
    CHECK(same_bytes(resumed[k].images, want[k].images));
  }
}

TEST_CASE("loader: bad settings are refused; pinned memory without a device says why") {
  LoaderConfig c = small_config(1);
  c.batch_size = 0;
  expect_error([&] { Loader l(synthetic_item, c); }, {"[loader]", "batch_size = 0"});
  c = small_config(1);
  c.augment.size = -3;
  expect_error([&] { Loader l(synthetic_item, c); }, {"[augment]", "size = -3"});
  expect_error([&] { Loader l(SampleSource{}, small_config(1)); }, {"[loader]", "no sample source"});
  if (cuda::device_count() == 0) {
    c = small_config(1);
    c.memory = HostMemory::kPinned;
    expect_error([&] { Loader l(synthetic_item, c); }, {"[loader]", "pinned"});
  }
}

TEST_CASE("loader: pinned batches equal pageable ones and reach the GPU" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  LoaderConfig c = small_config(2);
  Loader pageable(synthetic_item, c);
  c.memory = HostMemory::kPinned;
  Loader pinned(synthetic_item, c);
  pageable.start_epoch(0, order_of(7));
  pinned.start_epoch(0, order_of(7));
  const std::vector<Batch> a = drain(pageable), b = drain(pinned);
  REQUIRE(a.size() == b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    CHECK(b[k].images.pinned());
    CHECK(same_bytes(a[k].images, b[k].images));
    CHECK(same_bytes(a[k].masks, b[k].masks));
    const Tensor on_gpu = b[k].images.to(Device::cuda(0));
    CHECK(on_gpu.device() == Device::cuda(0));
    CHECK(on_gpu.to(Device::cpu()).to_vector() == a[k].images.to(Device::cpu()).to_vector());
  }
}

TEST_CASE("loader: a second pinned epoch uploads with no host wait and no pinned allocation" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  LoaderConfig c = small_config(2);
  c.memory = HostMemory::kPinned;
  Loader loader(synthetic_item, c);
  auto upload_epoch = [&](int64_t epoch) {
    loader.start_epoch(epoch, order_of(7));
    std::vector<Tensor> on_gpu;
    while (std::optional<Batch> b = loader.next()) on_gpu.push_back(b->images.to(Device::cuda(0)));
    return on_gpu;
  };
  upload_epoch(0);  // fills the pool
  cuda::synchronize(0);
  const EngineCounters before = engine_counters();
  const std::vector<Tensor> second = upload_epoch(1);
  const EngineCounters d = counters_between(before, engine_counters());
  CHECK(d.pinned_allocs == 0);
  CHECK(d.pinned_frees == 0);
  CHECK(d.host_syncs() == 0);
  CHECK(cuda_pinned_pool().stats().reuses > 0);
  // The copies are right once the device has done them.
  Loader pageable(synthetic_item, small_config(2));
  pageable.start_epoch(1, order_of(7));
  const std::vector<Batch> want = drain(pageable);
  REQUIRE(want.size() == second.size());
  for (size_t k = 0; k < want.size(); ++k)
    CHECK(second[k].to(Device::cpu()).to_vector() == want[k].images.to(Device::cpu()).to_vector());
}

TEST_CASE("loader: a batch too large for host memory ends the epoch with the size and what to lower") {
  // A user trial (data.size = 16384, batch 16) ended train_unet with SIGABRT: the allocation failed on a
  // worker thread. Here 65536 images of 3x16384x16384 (211 TB, more than a 47-bit address space, so it
  // fails whatever the overcommit policy) fail on workers and inline alike.
  for (int workers : {0, 2}) {
    CAPTURE(workers);
    LoaderConfig c = small_config(workers);
    c.batch_size = 65536;
    c.augment = augment::resize_only(16384);
    Loader loader(synthetic_item, c);
    loader.start_epoch(0, order_of(65536));
    expect_error([&] { loader.next(); }, {"[loader] cannot allocate batch 0: 65536 images of 3x16384x16384 float32",
                                          "MiB", "lower [train] batch_size or [data] size"});
  }
}
