// The MPI communicator (engine/communicator.h) over MPI_COMM_WORLD, built when CMake finds MPI
// (PLEURA_WITH_MPI), with nonblocking sums (MPI_Iallreduce on a duplicate of the world); otherwise the
// stand-in at the end of this file says the build has none. MPI's
// default error handler stays: a failed MPI call ends the whole job (never a rank left waiting).
// Tests: tests/mpi/test_mpi_communicator.cpp, run by ctest under mpirun.
#include "engine/communicator.h"

#include "engine/error.h"

#if PLEURA_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <numeric>
#endif

namespace pleura::mpi {

#if PLEURA_WITH_MPI

namespace {

MPI_Datatype mpi_type(const Tensor& t, const char* what) {
  switch (t.dtype()) {
    case DType::kFloat32: return MPI_FLOAT;
    case DType::kFloat64: return MPI_DOUBLE;
    case DType::kInt64: return MPI_INT64_T;
    default: break;
  }
  throw_error(cat("[communicator] ", what, " of ", describe(t), ": expected a float32, float64 or int64 tensor"));
}

int count_of(int64_t n, const char* what) {
  PLEURA_CHECK(n <= INT_MAX, "[communicator] ", what, " of ", n, " elements: more than MPI's ", INT_MAX,
               " per call");
  return static_cast<int>(n);
}

// A CPU view of `t` for MPI to read and write, and the copy back when `t` lives on a GPU.
class HostStage {
 public:
  explicit HostStage(Tensor& t) : t_(t), host_(t.to(Device::cpu())) {}
  void* data() { return host_.raw(); }
  void write_back() {
    if (!host_.same_data(t_)) t_.copy_from(host_);
  }

 private:
  Tensor& t_;
  Tensor host_;
};

// MPI_Iallreduce's request, and the tensor it sums in place (kept alive until the sum has finished).
class MpiPendingReduce final : public PendingReduce {
 public:
  MpiPendingReduce(Tensor t, MPI_Request request) : t_(std::move(t)), request_(request) {}
  ~MpiPendingReduce() override { wait(); }
  void wait() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  bool test() override {
    int done = 1;
    if (request_ != MPI_REQUEST_NULL) MPI_Test(&request_, &done, MPI_STATUS_IGNORE);
    return done != 0;
  }

 private:
  Tensor t_;
  MPI_Request request_;
};

// A CUDA tensor's sum, staged through the host within the call.
class StagedReduce final : public PendingReduce {
 public:
  void wait() override {}
  bool test() override { return true; }
};

class MpiWorld final : public Communicator {
 public:
  MpiWorld() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local_);
    MPI_Comm_rank(local_, &local_rank_);
    MPI_Comm_size(local_, &local_size_);
    MPI_Comm_dup(MPI_COMM_WORLD, &async_);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    library_ = std::string(version, static_cast<size_t>(length));
    if (size_t cut = library_.find_first_of(",\n"); cut != std::string::npos) library_.resize(cut);
  }
  ~MpiWorld() override {
    MPI_Comm_free(&async_);
    MPI_Comm_free(&local_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string describe() const override {
    const int machines = size_ / std::max(local_size_, 1);
    return cat("MPI (", library_, "), ", size_, size_ == 1 ? " rank" : " ranks", " on ", machines,
               machines == 1 ? " machine" : " machines (about)");
  }

  void all_reduce_sum(Tensor& t) override {
    const MPI_Datatype type = mpi_type(t, "all_reduce_sum");
    HostStage stage(t);
    MPI_Allreduce(MPI_IN_PLACE, stage.data(), count_of(t.numel(), "all_reduce_sum"), type, MPI_SUM, MPI_COMM_WORLD);
    stage.write_back();
  }
  std::unique_ptr<PendingReduce> all_reduce_sum_async(Tensor& t) override {
    const MPI_Datatype type = mpi_type(t, "all_reduce_sum_async");
    if (!t.device().is_cpu()) {
      all_reduce_sum(t);
      return std::make_unique<StagedReduce>();
    }
    MPI_Request request = MPI_REQUEST_NULL;
    MPI_Iallreduce(MPI_IN_PLACE, t.raw(), count_of(t.numel(), "all_reduce_sum_async"), type, MPI_SUM, async_,
                   &request);
    return std::make_unique<MpiPendingReduce>(t, request);
  }
  void all_reduce_sum(std::vector<double>& values) override {
    MPI_Allreduce(MPI_IN_PLACE, values.data(), count_of(static_cast<int64_t>(values.size()), "all_reduce_sum"),
                  MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  }
  void broadcast(Tensor& t, int root) override {
    check_root(root);
    const MPI_Datatype type = mpi_type(t, "broadcast");
    HostStage stage(t);
    MPI_Bcast(stage.data(), count_of(t.numel(), "broadcast"), type, root, MPI_COMM_WORLD);
    stage.write_back();
  }
  void broadcast(std::vector<double>& values, int root) override {
    check_root(root);
    MPI_Bcast(values.data(), count_of(static_cast<int64_t>(values.size()), "broadcast"), MPI_DOUBLE, root,
              MPI_COMM_WORLD);
  }
  std::vector<double> all_gather(const std::vector<double>& mine) override {
    int count = count_of(static_cast<int64_t>(mine.size()), "all_gather");
    std::vector<int> counts(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
    MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[static_cast<size_t>(r)] = static_cast<int>(total);
      total += counts[static_cast<size_t>(r)];
    }
    count_of(total, "all_gather");
    std::vector<double> all(static_cast<size_t>(total));
    MPI_Allgatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE,
                   MPI_COMM_WORLD);
    return all;
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this is for the compiler
  }

 private:
  void check_root(int root) const {
    PLEURA_CHECK(root >= 0 && root < size_, "[communicator] broadcast from rank ", root, " in a run of ", size_,
                 " ranks");
  }
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm local_ = MPI_COMM_NULL;
  // The world again, for the asynchronous sums alone: they are ordered among themselves, and the
  // collectives a rank calls while they are in flight (synchronised batch norm's, in backward) need not
  // come in the same place among them on every rank.
  MPI_Comm async_ = MPI_COMM_NULL;
  std::string library_;
};

bool g_initialised_here = false;

}  // namespace

std::unique_ptr<Communicator> init_world() {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    int provided = 0;
    PLEURA_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
                 "MPI_Init_thread failed");
    g_initialised_here = true;
    PLEURA_CHECK(provided >= MPI_THREAD_FUNNELED, "MPI provides thread level ", provided,
                 ", below MPI_THREAD_FUNNELED, which Pleura's loader threads need");
  }
  return std::make_unique<MpiWorld>();
}

void finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_initialised_here && !finalized) MPI_Finalize();
  g_initialised_here = false;
}

bool built_with_mpi() { return true; }

#else  // the stand-in of a build without MPI

std::unique_ptr<Communicator> init_world() {
  throw_error("this build of Pleura has no MPI (install libopenmpi-dev openmpi-bin and build again)");
}
void finalize() {}
bool built_with_mpi() { return false; }

#endif

}  // namespace pleura::mpi
