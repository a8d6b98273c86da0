// The single-process communicator, all_reduce_mean and the session that picks the world
// (engine/communicator.h). The MPI communicator is in engine/mpi_communicator.cpp. Test:
// tests/engine/test_communicator.cpp.
#include "engine/communicator.h"

#include <cstdlib>

#include "engine/error.h"

namespace pleura {

namespace {

// A sum finished within the call that started it.
class FinishedReduce final : public PendingReduce {
 public:
  void wait() override {}
  bool test() override { return true; }
};

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string describe() const override { return "one process"; }
  void all_reduce_sum(Tensor&) override {}
  void all_reduce_sum(std::vector<double>&) override {}
  void broadcast(Tensor&, int root) override { check_root(root); }
  void broadcast(std::vector<double>&, int root) override { check_root(root); }
  std::vector<double> all_gather(const std::vector<double>& mine) override { return mine; }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }

 private:
  static void check_root(int root) {
    PLEURA_CHECK(root == 0, "[communicator] broadcast from rank ", root, " in a run of one process (rank 0)");
  }
};

}  // namespace

std::unique_ptr<PendingReduce> Communicator::all_reduce_sum_async(Tensor& t) {
  all_reduce_sum(t);
  return std::make_unique<FinishedReduce>();
}

Communicator& single_process() {
  static SingleProcess world;
  return world;
}

void all_reduce_mean(Communicator& comm, Tensor& t) {
  PLEURA_CHECK(t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64, "[communicator] all_reduce_mean of ",
               describe(t), ": expected a float32 or float64 tensor");
  comm.all_reduce_sum(t);
  if (comm.size() == 1) return;
  const double scale = 1.0 / comm.size();
  Tensor host = t.to(Device::cpu());
  if (host.dtype() == DType::kFloat32) {
    float* p = host.data<float>();
    for (int64_t i = 0; i < host.numel(); ++i) p[i] = static_cast<float>(p[i] * scale);
  } else {
    double* p = host.data<double>();
    for (int64_t i = 0; i < host.numel(); ++i) p[i] *= scale;
  }
  if (!host.same_data(t)) t.copy_from(host);
}

#if !PLEURA_WITH_NCCL
bool nccl_built() { return false; }

std::unique_ptr<Communicator> make_gpu_communicator(Communicator&, int device) {
  throw_error(cat("[communicator] NCCL for cuda:", device, ": this build has no NCCL (it needs the CUDA toolkit's "
                  "nccl.h and libnccl when CMake runs); CUDA tensors go through the host communicator"));
}
#endif

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

DistributedSession::DistributedSession() {
  if (launched_by_mpi()) {
    PLEURA_CHECK(mpi::built_with_mpi(),
                 "started by an MPI launcher (mpirun or srun), but this build has no MPI: install libopenmpi-dev "
                 "openmpi-bin (scripts/install-deps.sh) and build again, or run without mpirun");
    mpi_ = mpi::init_world();
  }
  world_ = mpi_ ? mpi_.get() : &single_process();
}

DistributedSession::~DistributedSession() {
  if (!mpi_) return;
  mpi_.reset();
  mpi::finalize();
}

}  // namespace pleura
