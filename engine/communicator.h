// Collective operations among the processes ("ranks") of one data-parallel run: sums, broadcasts and
// gathers that every rank calls in the same order. Implementations: the single process (size 1, every
// operation leaves the values as they are; engine/communicator.cpp); MPI over the ranks an MPI launcher
// started (engine/mpi_communicator.cpp, built when CMake finds MPI; it stages CUDA tensors through the
// host); and NCCL in front of the MPI one for CUDA tensors (make_gpu_communicator,
// cuda/nccl_communicator.cu, built when CMake finds nccl.h). Tests: tests/train/test_data_parallel.cpp
// (one process; NCCL over one rank on a GPU) and tests/mpi/test_mpi_communicator.cpp (real ranks under
// mpirun).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace pleura {

// A sum that all_reduce_sum_async started. wait() completes it: afterwards the tensor holds the sum (for
// a CUDA tensor summed by NCCL: for the device work queued after the call, without host synchronisation).
// Destroying an unwaited one waits (MPI has no way to abandon a collective, and its buffer must outlive it).
class PendingReduce {
 public:
  virtual ~PendingReduce() = default;
  virtual void wait() = 0;
  // Moves the sum on without blocking (Open MPI advances nonblocking collectives only inside MPI calls);
  // true once it has finished (on a GPU: once the device has done it).
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The rank among those on the same machine (picks the GPU of a rank), and how many share the machine.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // "one process", "MPI (Open MPI v4.1.4), 2 ranks on 1 machine".
  virtual std::string describe() const = 0;

  // In place: each element becomes the sum over ranks, the same value on every rank. Tensors: float32,
  // float64 or int64, contiguous, on the CPU or a GPU.
  virtual void all_reduce_sum(Tensor& t) = 0;
  virtual void all_reduce_sum(std::vector<double>& values) = 0;
  // all_reduce_sum(t) started and left to finish while the caller goes on; `t` must stay unread and
  // unwritten until the handle's wait(). Every rank starts the same sums in the same order. MPI:
  // MPI_Iallreduce on CPU tensors, on a communicator of their own (the other collectives called while they
  // are in flight need not interleave with them the same way on every rank); CUDA tensors staged through
  // the host are summed within the call. NCCL: on its stream, which runs every NCCL collective in the
  // order called. This default sums within the call (the single process: nothing to do).
  virtual std::unique_ptr<PendingReduce> all_reduce_sum_async(Tensor& t);
  // In place: every rank receives root's values (same shape and dtype on every rank).
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void broadcast(std::vector<double>& values, int root) = 0;
  // Every rank's `mine` concatenated in rank order; the lengths may differ between ranks.
  virtual std::vector<double> all_gather(const std::vector<double>& mine) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the run with `code` (MPI_Abort); the single process exits. For a rank that
  // failed: the others would otherwise wait in their next collective for ever.
  [[noreturn]] virtual void abort(int code) = 0;
};

// The communicator of a run of one process.
Communicator& single_process();

// all_reduce_sum, then each element divided by the number of ranks (float tensors).
void all_reduce_mean(Communicator& comm, Tensor& t);

// A communicator over the same ranks as `host` whose CUDA tensors (on cuda:`device`, this rank's GPU) are
// summed and broadcast by NCCL on a stream of its own, without host synchronisation; everything else goes
// through `host`. A collective unfinished after PLEURA_NCCL_TIMEOUT_S seconds (default 600) ends the
// process with a message naming the rank. Throws when the build has no NCCL or the device is unusable.
std::unique_ptr<Communicator> make_gpu_communicator(Communicator& host, int device);
bool nccl_built();

// The world of this process: MPI when an MPI launcher (mpirun, srun) started it and the build has MPI,
// else the single process. Owns MPI's initialisation (MPI_Init_thread, funneled: only the thread that
// made it calls MPI) and MPI_Finalize in its destructor. One per process, made by the tool's main thread.
class DistributedSession {
 public:
  DistributedSession();
  ~DistributedSession();
  DistributedSession(const DistributedSession&) = delete;
  DistributedSession& operator=(const DistributedSession&) = delete;
  Communicator& world() { return *world_; }
  bool distributed() const { return world_->size() > 1; }

 private:
  std::unique_ptr<Communicator> mpi_;  // null when not launched by MPI
  Communicator* world_ = nullptr;
};

// True when the environment says an MPI launcher started this process (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
// PMIX_RANK), whether or not the build has MPI.
bool launched_by_mpi();

namespace mpi {
// Initialises MPI and returns the world communicator; throws when the build has no MPI (the stand-in).
std::unique_ptr<Communicator> init_world();
// MPI_Finalize, when init_world initialised MPI.
void finalize();
bool built_with_mpi();
}  // namespace mpi

}  // namespace pleura
