// Helpers of the tests that run as real MPI ranks (tests/mpi/, the program pleura_mpi_tests, started by
// ctest under mpirun): the world of the run, rows of a batch, and a folder every rank sees (rank 0 makes it). Implemented in
// tests/mpi/main.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "engine/communicator.h"
#include "engine/tensor.h"

namespace pleura::testing {

Communicator& world();

// Rows [begin, end) of dim 0 of a CPU tensor, as a new tensor.
Tensor rows(const Tensor& t, int64_t begin, int64_t end);

// This rank's rows of a batch of `total` images: rank r takes r + 1 of them (uneven on purpose), in rank
// order.
struct RankRows {
  int64_t begin, end, total;
};
RankRows uneven_block();

// A fresh folder made by rank 0, its path given to every rank; removed when the object goes.
class SharedDir {
 public:
  SharedDir();
  ~SharedDir();
  SharedDir(const SharedDir&) = delete;
  SharedDir& operator=(const SharedDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace pleura::testing
