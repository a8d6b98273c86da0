// Data-parallel pieces of the trainer (train/data_parallel.h). Test: tests/train/test_data_parallel.cpp,
// tests/mpi/test_mpi_training.cpp.
#include "train/data_parallel.h"

#include <algorithm>
#include <cstring>

#include "engine/cuda_runtime.h"
#include "engine/error.h"
#include "engine/interrupt.h"

namespace pleura {

void broadcast_model(Module& model, Communicator& comm) {
  if (comm.size() == 1) return;
  for (auto& [name, slot] : model.state_dict_slots()) comm.broadcast(*slot, 0);
}

void broadcast_buffers(Module& model, Communicator& comm) {
  if (comm.size() == 1) return;
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt64}) {
    std::vector<Tensor*> buffers;
    int64_t total = 0;
    for (auto& [name, buffer] : model.named_buffers()) {
      if (buffer->dtype() != dtype) continue;
      buffers.push_back(buffer);
      total += buffer->numel();
    }
    if (buffers.empty()) continue;
    Tensor flat = Tensor::empty(Shape{total}, dtype);
    const size_t element = dtype_size(dtype);
    char* bytes = static_cast<char*>(flat.raw());
    size_t offset = 0;
    for (Tensor* b : buffers) {  // CUDA buffers go through the host (the MPI communicator's tensors)
      const Tensor host = b->to(Device::cpu());
      std::memcpy(bytes + offset, host.raw(), host.nbytes());
      offset += host.nbytes();
    }
    comm.broadcast(flat, 0);
    offset = 0;
    for (Tensor* b : buffers) {
      Tensor part = Tensor::empty(b->shape(), dtype);
      std::memcpy(part.raw(), bytes + offset, part.nbytes());
      offset += static_cast<size_t>(b->numel()) * element;
      b->copy_from(part);
    }
  }
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

void GradientReducer::all_reduce() {
  if (comm_.size() == 1) return;
  for (const std::vector<size_t>& bucket : buckets_) reduce_bucket(bucket);
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

}  // namespace

// One flat float32 buffer on the parameters' device: each parameter's gradient (zeros where it has none),
// then one flag per parameter (1 where it has one), summed over the ranks in one call (by NCCL on a GPU
// when the communicator has it). The flags come back to the host: one small read per bucket.
void GradientReducer::reduce_bucket(const std::vector<size_t>& bucket) {
  const Device device = params_[bucket.front()]->device();
  int64_t total = 0;
  for (size_t k : bucket) {
    PLEURA_CHECK(params_[k]->device() == device, "[data parallel] parameter ", k, " is on ",
                 params_[k]->device().str(), ", parameter ", bucket.front(), " on ", device.str(),
                 ": a bucket's parameters share one device");
    total += params_[k]->numel();
  }
  const int64_t count = static_cast<int64_t>(bucket.size());
  Tensor flat = Tensor::zeros(Shape{total + count}, DType::kFloat32, device);
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
    cuda::copy_h2d(data + total, flags.data(), flags.size() * sizeof(float), device.index);
  } else {
    std::memcpy(data + total, flags.data(), flags.size() * sizeof(float));
  }
  comm_.all_reduce_sum(flat);
  if (device.is_cuda()) {
    cuda::copy_d2h(flags.data(), data + total, flags.size() * sizeof(float), device.index);
  } else {
    std::memcpy(flags.data(), data + total, flags.size() * sizeof(float));
  }
  offset = 0;
  for (size_t i = 0; i < bucket.size(); ++i) {
    Tensor& p = *params_[bucket[i]];
    if (flags[i] > 0.0f) {
      if (!p.grad().defined()) p.impl().grad = Tensor::empty(p.shape(), DType::kFloat32, device).impl_ptr();
      copy_bytes(p.grad().raw(), data + offset, p.nbytes(), device);
    }
    offset += p.numel();
  }
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
