// The threaded training loader: worker threads turn dataset items into augmented, normalised batches
// ([B,3,S,S] images and [B,1,S,S] masks, float32) ahead of the consumer, in a fixed order and with
// results that do not depend on the number of workers. Decoding is the caller's: a SampleSource
// function gives each item's image and mask. Test: tests/data/test_loader.cpp; bench: bench/bench_loader.cpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/pinned_pool.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "data/augment/config.h"
#include "data/augment/normalize.h"
#include "data/image.h"

namespace pleura {

// One dataset item before augmentation: 8-bit grey image and 0/255 mask of the same size.
struct Sample {
  GrayImage image;
  GrayImage mask;
};
// Produces dataset item `index`. Called from several worker threads at once, so it must be
// thread-safe. Throws (any std::exception) when the item cannot be read.
using SampleSource = std::function<Sample(int64_t index)>;
// Names dataset item `index` in messages (e.g. its file name); optional.
using SampleNamer = std::function<std::string(int64_t index)>;

enum class BadSamplePolicy {
  kStop,  // the error reaches the consumer (next() throws, naming the item) and the epoch ends
  kSkip,  // the item is left out of its batch and listed in Loader::skipped()
};
enum class HostMemory {
  kPageable,  // ordinary memory: the batch arrays are CPU tensors
  kPinned,    // page-locked memory from cuda::alloc_pinned, for fast copies to a GPU (CUDA builds)
};

struct LoaderConfig {
  int64_t batch_size = 2;        // the solution's batch size
  int num_workers = 2;           // 0: batches are made on the consumer's thread inside next()
  int64_t prefetch_batches = 4;  // batches made ahead of the consumer (ready or in the making), >= 1
  bool drop_last = false;        // leave out a short last batch (PyTorch's DataLoader default: keep it)
  BadSamplePolicy on_bad_sample = BadSamplePolicy::kStop;
  HostMemory memory = HostMemory::kPageable;
  augment::Normalization normalization = augment::Normalization::kUnit;
  augment::AugmentConfig augment;  // use augment::resize_only(size) for validation
  uint64_t seed = 0;               // item at position p of epoch e draws from Rng(derive_seed(seed, e, p))
};

// A float32 host array, in pageable or pinned memory.
class HostArray {
 public:
  HostArray() = default;
  HostArray(const Shape& shape, HostMemory memory);
  const Shape& shape() const { return shape_; }
  float* data() const { return data_; }
  size_t bytes() const { return static_cast<size_t>(shape_.numel()) * sizeof(float); }
  bool pinned() const { return pinned_ != nullptr; }
  // The array as a tensor on `device`: pageable memory on the CPU is returned as it is (no copy);
  // otherwise the data is copied (pinned -> CUDA: an asynchronous DMA copy on the device's stream, with
  // no host wait; the pinned buffer is not reused before it has finished, engine/pinned_pool.h).
  Tensor to(Device device) const;

 private:
  Shape shape_;
  float* data_ = nullptr;
  Tensor tensor_;                 // owner of pageable memory
  std::shared_ptr<PinnedBuffer> pinned_;  // pinned memory, lent by cuda_pinned_pool()
};

struct Batch {
  int64_t epoch = 0;
  int64_t index = 0;            // batch number within the epoch, from 0
  std::vector<int64_t> items;   // dataset indices, in batch order (skipped items left out)
  HostArray images;             // [B,3,S,S]
  HostArray masks;              // [B,1,S,S]
};

struct SkippedSample {
  int64_t epoch = 0;
  int64_t position = 0;  // position in the epoch's order
  int64_t index = 0;     // dataset index
  std::string name;
  std::string error;
};

// Augments one item with `rng` and writes it normalised: image 3*S*S floats, mask S*S floats.
// Throws when image and mask sizes differ or an image is empty.
void prepare_sample(Sample& sample, const augment::AugmentConfig& augment, augment::Normalization norm, Rng& rng,
                    float* image_dst, float* mask_dst);

class Loader {
 public:
  Loader(SampleSource source, LoaderConfig config, SampleNamer namer = {});
  // Stops the workers, abandoning any batch in the making, and joins them (within one item's time).
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Begins epoch `epoch` over `order` (dataset indices, e.g. EpochSampler::epoch_indices(epoch)),
  // cut into batches in that order. Abandons whatever was left of the previous epoch. `positions`, when
  // given (one per item), are the items' positions for their augmentation seeds instead of their places in
  // `order`: a data-parallel rank's share of an epoch (data/shard.h) keeps each item's place in the whole.
  void start_epoch(int64_t epoch, std::vector<int64_t> order, std::vector<int64_t> positions = {});
  // The next batch of the epoch, in order; std::nullopt after the last. With kStop, a bad item makes
  // this throw pleura::Error naming the item (after the batches before it were delivered), and the
  // epoch ends. A batch whose items were all skipped is left out.
  std::optional<Batch> next();
  // Batches in the current epoch (before any skipping).
  int64_t num_batches() const { return num_batches_; }
  // Items skipped so far (kSkip), across epochs, sorted by (epoch, position).
  std::vector<SkippedSample> skipped() const;
  const LoaderConfig& config() const { return config_; }

 private:
  struct Result {
    std::optional<Batch> batch;   // empty when every item was skipped
    std::exception_ptr error;
  };
  struct Job {
    uint64_t generation = 0;
    int64_t epoch = 0;
    int64_t batch = 0;
    int64_t first_position = 0;   // place of the first item in the order
    std::vector<int64_t> items;
    std::vector<int64_t> positions;  // each item's position for its augmentation seed
  };
  void worker_loop();
  // Makes one batch; std::nullopt when abandoned (stop or a new epoch) part way.
  std::optional<Result> make_batch(const Job& job);
  // Image and mask arrays for `count` items of batch `batch`; throws naming the size when memory fails.
  std::pair<HostArray, HostArray> batch_arrays(int64_t batch, int64_t count) const;
  Job job_locked(int64_t batch) const;  // the job of batch `batch`; caller holds mutex_
  std::string item_name(int64_t index) const;

  SampleSource source_;
  SampleNamer namer_;
  LoaderConfig config_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;   // workers wait here for claimable batches
  std::condition_variable ready_cv_;  // the consumer waits here for its next batch
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
  std::vector<int64_t> positions_;  // empty: an item's place in order_
  int64_t num_batches_ = 0;
  int64_t next_claim_ = 0;    // next batch a worker takes
  int64_t next_deliver_ = 0;  // next batch next() returns
  bool failed_ = false;       // a bad item under kStop: no new batches are started
  std::map<int64_t, Result> ready_;
  std::vector<SkippedSample> skipped_;
  std::vector<std::thread> workers_;
};

}  // namespace pleura
