// Data-parallel training over the ranks of a Communicator (engine/communicator.h): the pieces the trainer
// (train/trainer.cpp, train/train_epoch.cpp) puts together. Each rank trains its share of every global
// batch (data/shard.h); the combo loss gathers the ranks' per-image sums (ComboLossParams::group), so each
// rank back-propagates the loss of the whole batch; the parameter gradients are then summed over the ranks
// in buckets, and every rank takes the same optimizer step. Batch norm is per rank unless [train] sync_bn.
// Validation: each rank scores a block of the images and the per-image statistics are gathered in order,
// so the score is the one a single process computes, bit for bit. Tests: tests/train/test_data_parallel.cpp
// (one process) and tests/mpi/ (real ranks under mpirun).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "engine/communicator.h"
#include "layers/module.h"
#include "train/triplet_search.h"

namespace pleura {

// Rank 0's parameters and buffers, copied into every rank's model (at the start of a fold, after loading).
void broadcast_model(Module& model, Communicator& comm);

// Rank 0's device buffers (batch norm running statistics) copied into every rank's model, in one broadcast
// per dtype of a flat tensor packed on their device (no host wait with NCCL; the host counters,
// num_batches_tracked, advance alike on every rank and stay as they are). With per-rank batch norm each
// rank's running statistics follow its own images; after every step the ranks take rank 0's, as PyTorch's
// DDP does (broadcast_buffers), so that the ranks' validation blocks are scored by the model rank 0 saves.
void broadcast_buffers(Module& model, Communicator& comm);

// Sums the gradients of `params` over the ranks, in buckets of about `bucket_bytes` taken in reverse
// parameter order (the order backward finishes them). A parameter without a gradient on every rank
// stays without one (Adam skips it, as in one process); with a gradient on some ranks only, the others
// count zeros. Two ways, with the same sums: all_reduce() after backward, or overlapped with backward:
// begin_overlap() before the backward pass that ends the step installs a gradient-ready hook
// (engine/autograd.h) on this thread, which starts bucket k's sum (all_reduce_sum_async) as soon as every
// gradient of buckets 0..k is final, so that every rank starts the buckets in index order; finish() after
// backward starts the buckets left (parameters that got no gradient), waits for every sum and writes them
// into the gradients. With one rank, begin_overlap() and finish() do nothing.
class GradientReducer {
 public:
  static constexpr size_t kDefaultBucketBytes = size_t{25} << 20;
  GradientReducer(std::vector<Tensor*> params, Communicator& comm, size_t bucket_bytes = kDefaultBucketBytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;
  void all_reduce();
  void begin_overlap();
  void finish();
  // The buckets as lists of parameter indices (tests).
  const std::vector<std::vector<size_t>>& buckets() const { return buckets_; }

 private:
  class Overlap;  // the hook and the sums in flight, between begin_overlap() and finish()
  Tensor pack_bucket(const std::vector<size_t>& bucket) const;
  void unpack_bucket(const std::vector<size_t>& bucket, const Tensor& flat);
  std::vector<Tensor*> params_;
  Communicator& comm_;
  std::vector<std::vector<size_t>> buckets_;
  std::unique_ptr<Overlap> overlap_;
};

// True on every rank when a stop was requested on any (a signal reaches the ranks at different moments;
// they must stop after the same step). Sets the stop request where it was not set.
bool agree_on_stop(Communicator& comm);

// The search over every rank's validation images: the ranks' statistics gathered in rank order into a
// copy of `mine` (rank r having scored the r-th block of the images in order).
TripletSearch gather_search(const TripletSearch& mine, Communicator& comm);

}  // namespace pleura
