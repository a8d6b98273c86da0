// The threaded loader (header loader.h). Workers claim whole batches in increasing order, at most
// prefetch_batches ahead of the consumer, and park finished ones in a map keyed by batch number; the
// consumer takes them strictly in order. Each item draws from its own stream,
// Rng(derive_seed(seed, epoch, position in the epoch)), so neither the number of workers nor their
// timing can change a batch. A generation counter, bumped by start_epoch, marks work of an abandoned
// epoch, which is dropped; workers look at it (and at the stop flag) between items.
#include "data/loader.h"

#include <algorithm>
#include <cstring>

#include "engine/cuda_runtime.h"
#include "engine/error.h"
#include "engine/pinned_pool.h"
#include "data/augment/pipeline.h"
#include "data/sampler.h"

namespace pleura {

HostArray::HostArray(const Shape& shape, HostMemory memory) : shape_(shape) {
  if (memory == HostMemory::kPinned) {
    pinned_ = cuda_pinned_pool().acquire(bytes());  // reused: no cudaMallocHost per batch
    data_ = static_cast<float*>(pinned_->data());
  } else {
    tensor_ = Tensor::empty(shape, DType::kFloat32);
    data_ = tensor_.data<float>();
  }
}

Tensor HostArray::to(Device device) const {
  PLEURA_CHECK(data_ != nullptr, "[loader] to() on an empty HostArray");
  if (!pinned()) return upload(tensor_, device);  // a host batch: not a read of device values
  Tensor t = Tensor::empty(shape_, DType::kFloat32, device);
  if (device.is_cpu()) {
    std::memcpy(t.raw(), data_, bytes());
  } else {
    // Asynchronous from pinned memory: the buffer goes back to its pool with a fence after the copy, and
    // is not lent again before the device has passed it (engine/pinned_pool.h). No host wait.
    cuda::copy_h2d(t.raw(), data_, bytes(), device.index);
    pinned_->set_fence(cuda::record_fence(device.index));
  }
  return t;
}

void prepare_sample(Sample& s, const augment::AugmentConfig& aug, augment::Normalization norm, Rng& rng,
                    float* image_dst, float* mask_dst) {
  augment::augment_pair(s.image, s.mask, aug, rng);
  augment::write_image_chw(s.image, norm, image_dst);
  augment::write_mask(s.mask, mask_dst);
}

Loader::Loader(SampleSource source, LoaderConfig config, SampleNamer namer)
    : source_(std::move(source)), namer_(std::move(namer)), config_(std::move(config)) {
  PLEURA_CHECK(source_ != nullptr, "[loader] no sample source given");
  PLEURA_CHECK(config_.batch_size >= 1, "[loader] batch_size = ", config_.batch_size, ": must be >= 1");
  PLEURA_CHECK(config_.num_workers >= 0 && config_.num_workers <= 256, "[loader] num_workers = ", config_.num_workers,
               ": must be in [0, 256]");
  PLEURA_CHECK(config_.prefetch_batches >= 1, "[loader] prefetch_batches = ", config_.prefetch_batches,
               ": must be >= 1");
  augment::validate(config_.augment);
  if (config_.memory == HostMemory::kPinned) {
    try {
      HostArray probe(Shape{1}, HostMemory::kPinned);
    } catch (const std::exception& e) {
      throw_error(cat("[loader] memory = pinned needs a CUDA device: ", e.what()));
    }
  }
  for (int i = 0; i < config_.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void Loader::start_epoch(int64_t epoch, std::vector<int64_t> order, std::vector<int64_t> positions) {
  PLEURA_CHECK(positions.empty() || positions.size() == order.size(), "[loader] epoch ", epoch, ": ", positions.size(),
               " positions for ", order.size(), " items");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
    epoch_ = epoch;
    order_ = std::move(order);
    positions_ = std::move(positions);
    const int64_t n = static_cast<int64_t>(order_.size()), b = config_.batch_size;
    num_batches_ = config_.drop_last ? n / b : (n + b - 1) / b;
    next_claim_ = 0;
    next_deliver_ = 0;
    failed_ = false;
    ready_.clear();
  }
  work_cv_.notify_all();
}

std::string Loader::item_name(int64_t index) const {
  if (!namer_) return "";
  try {
    return namer_(index);
  } catch (...) {
    return "(name unavailable)";
  }
}

// The arrays of one batch; an allocation failure says how much, for what, and what to lower.
std::pair<HostArray, HostArray> Loader::batch_arrays(int64_t batch, int64_t count) const {
  const int64_t s = config_.augment.size;
  try {
    return {HostArray(Shape{count, 3, s, s}, config_.memory), HostArray(Shape{count, 1, s, s}, config_.memory)};
  } catch (const std::exception& e) {
    const double mib = static_cast<double>(count) * 4.0 * static_cast<double>(s) * static_cast<double>(s) * 4.0 / 1048576.0;
    throw Error(cat("[loader] cannot allocate batch ", batch, ": ", count, " images of 3x", s, "x", s,
                    " float32 and their masks need ", static_cast<int64_t>(mib), " MiB (", e.what(),
                    "); lower [train] batch_size or [data] size"));
  }
}

std::optional<Loader::Result> Loader::make_batch(const Job& job) {
  const int64_t s = config_.augment.size, count = static_cast<int64_t>(job.items.size());
  auto [images, masks] = batch_arrays(job.batch, count);
  std::vector<int64_t> kept;
  for (int64_t k = 0; k < count; ++k) {
    if (stop_ || generation_ != job.generation) return std::nullopt;  // abandoned: drop the work
    const int64_t position = job.positions[static_cast<size_t>(k)], index = job.items[static_cast<size_t>(k)];
    std::string error;
    try {
      Sample sample = source_(index);
      Rng rng(derive_seed(config_.seed, static_cast<uint64_t>(job.epoch), static_cast<uint64_t>(position)));
      const size_t slot = kept.size();
      prepare_sample(sample, config_.augment, config_.normalization, rng, images.data() + slot * 3 * s * s,
                     masks.data() + slot * s * s);
      kept.push_back(index);
      continue;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    const std::string name = item_name(index);
    if (config_.on_bad_sample == BadSamplePolicy::kStop) {
      Result r;
      r.error = std::make_exception_ptr(Error(cat("[loader] bad sample ", index, name.empty() ? "" : " '", name,
                                                  name.empty() ? "" : "'", " (position ", position, " of epoch ",
                                                  job.epoch, "): ", error)));
      return r;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    skipped_.push_back({job.epoch, position, index, name, error});
  }
  Result r;
  if (kept.empty()) return r;
  const int64_t n = static_cast<int64_t>(kept.size());
  if (n < count) {  // items were skipped: hand over arrays of the right size
    auto [small_images, small_masks] = batch_arrays(job.batch, n);
    std::memcpy(small_images.data(), images.data(), small_images.bytes());
    std::memcpy(small_masks.data(), masks.data(), small_masks.bytes());
    images = small_images;
    masks = small_masks;
  }
  r.batch = Batch{job.epoch, job.batch, std::move(kept), std::move(images), std::move(masks)};
  return r;
}

Loader::Job Loader::job_locked(int64_t batch) const {
  Job job;
  job.generation = generation_;
  job.epoch = epoch_;
  job.batch = batch;
  job.first_position = batch * config_.batch_size;
  const int64_t end = std::min<int64_t>(job.first_position + config_.batch_size, static_cast<int64_t>(order_.size()));
  job.items.assign(order_.begin() + job.first_position, order_.begin() + end);
  for (int64_t p = job.first_position; p < end; ++p)
    job.positions.push_back(positions_.empty() ? p : positions_[static_cast<size_t>(p)]);
  return job;
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [this] {
      return stop_ || (!failed_ && next_claim_ < num_batches_ && next_claim_ < next_deliver_ + config_.prefetch_batches);
    });
    if (stop_) return;
    const Job job = job_locked(next_claim_++);
    lock.unlock();
    std::optional<Result> result;
    try {
      result = make_batch(job);
    } catch (...) {
      // An exception must not leave a worker thread (that ends the process): it reaches next() instead.
      result = Result{};
      result->error = std::current_exception();
    }
    lock.lock();
    if (!result || stop_ || job.generation != generation_) continue;
    if (result->error) failed_ = true;
    ready_.emplace(job.batch, std::move(*result));
    ready_cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (next_deliver_ < num_batches_) {
    Result r;
    if (workers_.empty()) {
      const Job job = job_locked(next_deliver_);
      lock.unlock();
      std::optional<Result> made = make_batch(job);
      lock.lock();
      if (made) r = std::move(*made);
    } else {
      ready_cv_.wait(lock, [this] { return ready_.count(next_deliver_) > 0; });
      auto it = ready_.find(next_deliver_);
      r = std::move(it->second);
      ready_.erase(it);
    }
    ++next_deliver_;
    work_cv_.notify_all();
    if (r.error) {
      next_deliver_ = num_batches_;  // the epoch ends here
      failed_ = true;
      ready_.clear();
      std::rethrow_exception(r.error);
    }
    if (r.batch) return std::move(r.batch);
  }
  return std::nullopt;
}

std::vector<SkippedSample> Loader::skipped() const {
  std::vector<SkippedSample> out;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out = skipped_;
  }
  std::sort(out.begin(), out.end(), [](const SkippedSample& a, const SkippedSample& b) {
    return a.epoch != b.epoch ? a.epoch < b.epoch : a.position < b.position;
  });
  return out;
}

}  // namespace pleura
