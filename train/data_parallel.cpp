// Data-parallel pieces of the trainer (train/data_parallel.h). Test: tests/train/test_data_parallel.cpp,
// tests/mpi/test_mpi_training.cpp.
#include "train/data_parallel.h"

#include <algorithm>
#include <cstring>

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

// One flat float32 buffer: each parameter's gradient (zeros where it has none), then one flag per
// parameter (1 where it has one), summed over the ranks in one call.
void GradientReducer::reduce_bucket(const std::vector<size_t>& bucket) {
  int64_t total = 0;
  for (size_t k : bucket) total += params_[k]->numel();
  Tensor flat = Tensor::zeros(Shape{total + static_cast<int64_t>(bucket.size())});
  float* data = flat.data<float>();
  float* flags = data + total;
  int64_t offset = 0;
  for (size_t i = 0; i < bucket.size(); ++i) {
    const Tensor& p = *params_[bucket[i]];
    const Tensor grad = p.grad();
    if (grad.defined()) {
      const Tensor host = grad.to(Device::cpu());
      std::memcpy(data + offset, host.data<float>(), host.nbytes());
      flags[i] = 1.0f;
    }
    offset += p.numel();
  }
  comm_.all_reduce_sum(flat);
  offset = 0;
  for (size_t i = 0; i < bucket.size(); ++i) {
    Tensor& p = *params_[bucket[i]];
    if (flags[i] > 0.0f) {
      Tensor sum = Tensor::empty(p.shape());
      std::memcpy(sum.data<float>(), data + offset, sum.nbytes());
      Tensor grad = p.grad();
      if (grad.defined()) {
        grad.copy_from(sum);
      } else {
        p.impl().grad = sum.to(p.device()).impl_ptr();
      }
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
