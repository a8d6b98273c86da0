// Data-parallel pieces of the trainer (train/data_parallel.h). Test: tests/train/test_data_parallel.cpp,
// tests/mpi/test_mpi_training.cpp.
#include "train/data_parallel.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "engine/autograd.h"
#include "engine/cuda_runtime.h"
#include "engine/error.h"
#include "engine/interrupt.h"

namespace pleura {

void broadcast_model(Module& model, Communicator& comm) {
  if (comm.size() == 1) return;
  for (auto& [name, slot] : model.state_dict_slots()) comm.broadcast(*slot, 0);
}

GradientReducer::GradientReducer(std::vector<Tensor*> params, Communicator& comm, size_t bucket_bytes)
    : params_(std::move(params)), comm_(comm) {
  size_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = *params_[k];
    PLEURA_CHECK(p.dtype() == DType::kFloat32, "[data parallel] parameter ", k, " is ", describe(p),
                 ": gradients are summed over ranks as float32");
    if (buckets_.empty() || (bytes > 0 && bytes + p.nbytes() > bucket_bytes)) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(k);
    bytes += p.nbytes();
  }
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::all_reduce() {
  if (comm_.size() == 1) return;
  for (const std::vector<size_t>& bucket : buckets_) {
    Tensor flat = pack_bucket(bucket);
    comm_.all_reduce_sum(flat);
    unpack_bucket(bucket, flat);
  }
}

namespace {

// Copies bytes within one device (the CPU, or a GPU).
void copy_bytes(void* dst, const void* src, size_t bytes, Device device) {
  if (device.is_cuda()) {
    cuda::copy_d2d(dst, src, bytes, device.index);
  } else {
    std::memcpy(dst, src, bytes);
  }
}

// The flags on a GPU, over zeros: one fill per run of ones. A copy from pageable host memory could wait
// for the stream, while backward is still being queued (the buckets are packed during it).
void fill_flags(float* flags_dev, const std::vector<float>& flags, int device) {
  for (size_t i = 0; i < flags.size();) {
    size_t end = i;
    while (end < flags.size() && flags[end] > 0.0f) ++end;
    if (end > i) cuda::fill(flags_dev + i, static_cast<int64_t>(end - i), DType::kFloat32, 1.0, device);
    i = end + 1;
  }
}

}  // namespace

void broadcast_buffers(Module& model, Communicator& comm) {
  if (comm.size() == 1) return;
  // The device buffers only, packed on their device (one broadcast per dtype, by NCCL on a GPU): the host
  // ones (num_batches_tracked) count the training forward passes, the same on every rank.
  const std::vector<Tensor*> all = model.device_buffers();
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt64}) {
    std::vector<Tensor*> buffers;
    int64_t total = 0;
    for (Tensor* b : all) {
      if (b->dtype() != dtype) continue;
      PLEURA_CHECK(b->device() == all.front()->device(), "[data parallel] buffer ", describe(*b),
                   " is on another device than ", describe(*all.front()), ": a model's buffers share one device");
      buffers.push_back(b);
      total += b->numel();
    }
    if (buffers.empty()) continue;
    const Device device = buffers.front()->device();
    Tensor flat = Tensor::empty(Shape{total}, dtype, device);
    char* bytes = static_cast<char*>(flat.raw());
    size_t offset = 0;
    for (Tensor* b : buffers) {
      copy_bytes(bytes + offset, b->raw(), b->nbytes(), device);
      offset += b->nbytes();
    }
    comm.broadcast(flat, 0);
    offset = 0;
    for (Tensor* b : buffers) {
      copy_bytes(b->raw(), bytes + offset, b->nbytes(), device);
      offset += b->nbytes();
    }
  }
}

// One flat float32 buffer on the parameters' device: each parameter's gradient (zeros where it has none),
// then one flag per parameter (1 where it has one), summed over the ranks in one call (by NCCL on a GPU
// when the communicator has it).
Tensor GradientReducer::pack_bucket(const std::vector<size_t>& bucket) const {
  const Device device = params_[bucket.front()]->device();
  int64_t total = 0;
  for (size_t k : bucket) {
    PLEURA_CHECK(params_[k]->device() == device, "[data parallel] parameter ", k, " is on ",
                 params_[k]->device().str(), ", parameter ", bucket.front(), " on ", device.str(),
                 ": a bucket's parameters share one device");
    total += params_[k]->numel();
  }
  Tensor flat = Tensor::zeros(Shape{total + static_cast<int64_t>(bucket.size())}, DType::kFloat32, device);
  float* data = flat.data<float>();
  std::vector<float> flags(bucket.size(), 0.0f);
  int64_t offset = 0;
  for (size_t i = 0; i < bucket.size(); ++i) {
    const Tensor& p = *params_[bucket[i]];
    const Tensor grad = p.grad();
    if (grad.defined()) {
      copy_bytes(data + offset, grad.raw(), grad.nbytes(), device);
      flags[i] = 1.0f;
    }
    offset += p.numel();
  }
  if (device.is_cuda()) {
    fill_flags(data + total, flags, device.index);
  } else {
    std::memcpy(data + total, flags.data(), flags.size() * sizeof(float));
  }
  return flat;
}

// The summed gradients back into the parameters (a flag above 0: some rank had a gradient). The flags come
// back to the host: one small read per bucket.
void GradientReducer::unpack_bucket(const std::vector<size_t>& bucket, const Tensor& flat) {
  const Device device = flat.device();
  const int64_t total = flat.numel() - static_cast<int64_t>(bucket.size());
  const float* data = flat.data<float>();
  std::vector<float> flags(bucket.size(), 0.0f);
  if (device.is_cuda()) {
    cuda::copy_d2h(flags.data(), data + total, flags.size() * sizeof(float), device.index);
  } else {
    std::memcpy(flags.data(), data + total, flags.size() * sizeof(float));
  }
  int64_t offset = 0;
  for (size_t i = 0; i < bucket.size(); ++i) {
    Tensor& p = *params_[bucket[i]];
    if (flags[i] > 0.0f) {
      if (!p.grad().defined()) p.impl().grad = Tensor::empty(p.shape(), DType::kFloat32, device).impl_ptr();
      copy_bytes(p.grad().raw(), data + offset, p.nbytes(), device);
    }
    offset += p.numel();
  }
}

// The overlapped sums of one step: which parameters' gradients are final, the next bucket to start (every
// bucket before it has started), and the sums in flight. Installed as the thread's gradient-ready hook for
// its lifetime.
class GradientReducer::Overlap final : public GradReadyHook {
 public:
  explicit Overlap(GradientReducer& reducer)
      : r_(reducer), bucket_of_(reducer.params_.size()), final_(reducer.params_.size(), false) {
    for (size_t k = 0; k < r_.params_.size(); ++k) index_[&r_.params_[k]->impl()] = k;
    for (size_t b = 0; b < r_.buckets_.size(); ++b) {
      for (size_t k : r_.buckets_[b]) bucket_of_[k] = b;
      left_.push_back(r_.buckets_[b].size());
    }
  }

  // Parameters outside the pass (frozen, unused) keep the gradient they have: final already.
  void on_graph(const std::vector<TensorImpl*>& leaves) override {
    PLEURA_CHECK(!seen_graph_, "[data parallel] a second backward pass before finish(): the overlapped "
                 "gradient sum covers one backward pass (the last of a grad_accum window)");
    seen_graph_ = true;
    std::vector<bool> in_graph(final_.size(), false);
    for (TensorImpl* leaf : leaves)
      if (auto it = index_.find(leaf); it != index_.end()) in_graph[it->second] = true;
    for (size_t k = 0; k < final_.size(); ++k)
      if (!in_graph[k]) mark_final(k);
    start_ready_buckets();
  }

  void on_ready(TensorImpl* leaf) override {
    if (auto it = index_.find(leaf); it != index_.end()) mark_final(it->second);
    start_ready_buckets();
    drive_progress();
  }

  // After backward: starts the buckets not started yet, waits for every sum and writes them back.
  void complete() {
    for (size_t k = 0; k < final_.size(); ++k) mark_final(k);
    start_ready_buckets();
    for (size_t b = 0; b < pending_.size(); ++b) {
      pending_[b]->wait();
      r_.unpack_bucket(r_.buckets_[b], flats_[b]);
    }
  }

 private:
  void mark_final(size_t k) {
    if (final_[k]) return;
    final_[k] = true;
    --left_[bucket_of_[k]];
  }

  // Buckets start in index order: the next one once all its gradients are final.
  void start_ready_buckets() {
    while (pending_.size() < left_.size() && left_[pending_.size()] == 0) {
      const std::vector<size_t>& bucket = r_.buckets_[pending_.size()];
      flats_.push_back(r_.pack_bucket(bucket));
      pending_.push_back(r_.comm_.all_reduce_sum_async(flats_.back()));
    }
  }

  // Lets MPI advance the sums in flight (Open MPI does only inside its calls; one test moves them all on).
  void drive_progress() {
    while (progressed_ < pending_.size() && pending_[progressed_]->test()) ++progressed_;
  }

  GradientReducer& r_;
  std::unordered_map<TensorImpl*, size_t> index_;   // parameter -> its index
  std::vector<size_t> bucket_of_;                   // per parameter: its bucket
  std::vector<bool> final_;                         // per parameter: its gradient is final
  std::vector<size_t> left_;                        // per bucket: parameters not final yet
  bool seen_graph_ = false;
  std::vector<Tensor> flats_;                       // per started bucket: its buffer, summed in place
  std::vector<std::unique_ptr<PendingReduce>> pending_;  // per started bucket, in index order
  size_t progressed_ = 0;                           // the sums before it have finished
  BackwardHookScope scope_{*this};                  // last: installed once the rest is built
};

void GradientReducer::begin_overlap() {
  if (comm_.size() == 1) return;
  PLEURA_CHECK(overlap_ == nullptr, "[data parallel] begin_overlap() called twice without finish() between");
  overlap_ = std::make_unique<Overlap>(*this);
}

void GradientReducer::finish() {
  if (comm_.size() == 1) return;
  PLEURA_CHECK(overlap_ != nullptr, "[data parallel] finish() without begin_overlap() before the backward pass "
               "(all_reduce() sums after backward)");
  std::unique_ptr<Overlap> overlap = std::move(overlap_);
  overlap->complete();
}

bool agree_on_stop(Communicator& comm) {
  if (comm.size() == 1) return stop_requested();
  std::vector<double> stopping = {stop_requested() ? 1.0 : 0.0};
  comm.all_reduce_sum(stopping);
  if (stopping[0] > 0 && !stop_requested()) request_stop(2 /* SIGINT: the stop another rank was asked for */);
  return stopping[0] > 0;
}

TripletSearch gather_search(const TripletSearch& mine, Communicator& comm) {
  TripletSearch all = mine;
  if (comm.size() == 1) return all;
  const std::vector<int64_t>& rows = mine.statistics();
  // Counts of pixels (below 2^53): exact as doubles.
  const std::vector<double> gathered = comm.all_gather(std::vector<double>(rows.begin(), rows.end()));
  all = TripletSearch(mine.triplets(), mine.options());
  all.add_statistics(std::vector<int64_t>(gathered.begin(), gathered.end()));
  return all;
}

}  // namespace pleura
