// A stand-in communicator for tests of data-parallel code in one process: two ranks holding the same
// values, so that a sum over the ranks doubles every element (on the CPU or a GPU, any float dtype; CUDA
// tensors are staged through the host, as the MPI communicator stages them). Used by
// tests/ops/test_batch_norm.cpp (synchronised batch norm) and tests/train/test_data_parallel.cpp
// (gradient buckets, which extends it to record the asynchronous sums).
#pragma once

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/communicator.h"

namespace pleura::testing {

class TwinRanks : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 2; }
  std::string describe() const override { return "two identical ranks (test)"; }
  void all_reduce_sum(Tensor& t) override {
    std::vector<double> v = t.to_vector();
    for (double& e : v) e *= 2.0;
    t.copy_from(Tensor::from_vector(v, t.shape(), t.dtype()));
    ++sums;
  }
  void all_reduce_sum(std::vector<double>& values) override {
    for (double& v : values) v *= 2.0;
    ++sums;
  }
  void broadcast(Tensor&, int) override {}
  void broadcast(std::vector<double>&, int) override {}
  std::vector<double> all_gather(const std::vector<double>& mine) override {
    std::vector<double> both = mine;
    both.insert(both.end(), mine.begin(), mine.end());
    return both;
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }

  int sums = 0;  // all_reduce_sum calls
};

}  // namespace pleura::testing
