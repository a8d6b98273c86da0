// The NCCL communicator (engine/communicator.h's make_gpu_communicator): CUDA tensors are summed and
// broadcast by NCCL on a stream of its own, ordered after the device's compute stream and before its
// next kernels by events (no host synchronisation); CPU tensors, host vectors, gathers and barriers go
// through the host communicator (MPI), which also carries NCCL's unique id from rank 0. A sum started by
// all_reduce_sum_async is left on the NCCL stream, and its wait() makes the compute stream wait for it.
// A watchdog thread ends the process when a collective has not finished after PLEURA_NCCL_TIMEOUT_S
// seconds (default 600):
// ncclCommAbort, a message naming the rank, exit status 1, so mpirun ends the other ranks instead of
// leaving them waiting. Built when CMake finds NCCL (PLEURA_WITH_NCCL). Test: tests/cuda/test_nccl.cpp
// (one rank, on a GPU). NCCL itself is loaded when first needed (dlopen), not linked.
#include "engine/communicator.h"

#if PLEURA_WITH_NCCL

#include <dlfcn.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "cuda/context.h"
#include "engine/cuda_runtime.h"
#include "engine/error.h"

namespace pleura {

namespace {

// NCCL's functions, from libnccl.so.2 loaded at the first use (dlopen): the programs start and run
// without NCCL on the machine (it is 218 MB); only a data-parallel GPU run needs it. The library is
// looked for on the loader's path (LD_LIBRARY_PATH; PyTorch's nvidia-nccl wheel holds one).
struct NcclApi {
  decltype(&ncclGetUniqueId) get_unique_id;
  decltype(&ncclCommInitRank) comm_init_rank;
  decltype(&ncclAllReduce) all_reduce;
  decltype(&ncclBroadcast) broadcast;
  decltype(&ncclCommAbort) comm_abort;
  decltype(&ncclCommDestroy) comm_destroy;
  decltype(&ncclGetVersion) get_version;
  decltype(&ncclGetErrorString) error_string;
};

template <class F>
void resolve(void* library, const char* name, F& f) {
  f = reinterpret_cast<F>(dlsym(library, name));
  PLEURA_CHECK(f != nullptr, "[communicator] libnccl.so.2 has no ", name);
}

const NcclApi& nccl() {
  static const NcclApi api = [] {
    void* library = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    PLEURA_CHECK(library != nullptr, "[communicator] cannot load NCCL (", dlerror(),
                 "): install it (the CUDA toolkit's libnccl, or PyTorch's nvidia-nccl wheel) and put its folder on "
                 "LD_LIBRARY_PATH; without NCCL, leave [run] device on the CPU for a data-parallel run");
    NcclApi a{};
    resolve(library, "ncclGetUniqueId", a.get_unique_id);
    resolve(library, "ncclCommInitRank", a.comm_init_rank);
    resolve(library, "ncclAllReduce", a.all_reduce);
    resolve(library, "ncclBroadcast", a.broadcast);
    resolve(library, "ncclCommAbort", a.comm_abort);
    resolve(library, "ncclCommDestroy", a.comm_destroy);
    resolve(library, "ncclGetVersion", a.get_version);
    resolve(library, "ncclGetErrorString", a.error_string);
    return a;
  }();
  return api;
}

#define PLEURA_NCCL_CHECK(call)                                                                           \
  do {                                                                                                    \
    ncclResult_t pleura_r_ = (call);                                                                      \
    if (pleura_r_ != ncclSuccess)                                                                         \
      ::pleura::cuda::throw_status("NCCL", static_cast<long>(pleura_r_), nccl().error_string(pleura_r_), \
                                   #call, __func__, __FILE__, __LINE__);                                  \
  } while (0)

ncclDataType_t nccl_type(const Tensor& t, const char* what) {
  switch (t.dtype()) {
    case DType::kFloat32: return ncclFloat32;
    case DType::kFloat64: return ncclFloat64;
    case DType::kInt64: return ncclInt64;
    default: break;
  }
  throw_error(cat("[communicator] ", what, " of ", describe(t), ": expected a float32, float64 or int64 tensor"));
}

double timeout_seconds() {
  const char* env = std::getenv("PLEURA_NCCL_TIMEOUT_S");
  const double s = env ? std::atof(env) : 600.0;
  return s > 0 ? s : 600.0;
}

// A CUDA event of the device, destroyed with its last owner (the pending sum and the watchdog's list).
class Event {
 public:
  explicit Event(int device) : device_(device) {
    cuda::DeviceGuard guard(device_);
    PLEURA_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
  }
  ~Event() {
    cuda::DeviceGuard guard(device_);
    PLEURA_CUDA_CHECK_LOG(cudaEventDestroy(event_));
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  int device_;
  cudaEvent_t event_ = nullptr;
};

// A sum left on the NCCL stream: wait() orders the compute stream after it (no host synchronisation);
// the tensor is kept until then, so that its memory goes back to the allocator only behind the sum.
class NcclPendingReduce final : public PendingReduce {
 public:
  NcclPendingReduce(Tensor t, std::shared_ptr<Event> done, int device)
      : t_(std::move(t)), done_(std::move(done)), device_(device) {}
  ~NcclPendingReduce() override {
    if (!done_) return;
    cuda::DeviceGuard guard(device_);
    PLEURA_CUDA_CHECK_LOG(cudaStreamWaitEvent(cuda::stream(device_), done_->get(), 0));
  }
  void wait() override {
    if (!done_) return;
    cuda::DeviceGuard guard(device_);
    PLEURA_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(device_), done_->get(), 0));
    done_.reset();
    t_ = Tensor();
  }
  bool test() override {
    if (!done_) return true;
    cuda::DeviceGuard guard(device_);
    return cudaEventQuery(done_->get()) == cudaSuccess;
  }

 private:
  Tensor t_;
  std::shared_ptr<Event> done_;
  int device_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& host, int device) : host_(host), device_(device), timeout_(timeout_seconds()) {
    cuda::DeviceGuard guard(device_);
    ncclUniqueId id;
    std::vector<double> bytes(sizeof(id), 0.0);
    if (host_.rank() == 0) {
      PLEURA_NCCL_CHECK(nccl().get_unique_id(&id));
      for (size_t i = 0; i < sizeof(id); ++i) bytes[i] = static_cast<unsigned char>(id.internal[i]);
    }
    host_.broadcast(bytes, 0);
    for (size_t i = 0; i < sizeof(id); ++i) id.internal[i] = static_cast<char>(static_cast<int>(bytes[i]));
    PLEURA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    PLEURA_CUDA_CHECK(cudaEventCreateWithFlags(&inputs_ready_, cudaEventDisableTiming));
    PLEURA_NCCL_CHECK(nccl().comm_init_rank(&comm_, host_.size(), id, host_.rank()));
    int version = 0;
    nccl().get_version(&version);
    version_ = cat(version / 10000, ".", version / 100 % 100, ".", version % 100);
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclCommunicator() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    watchdog_.join();
    cuda::DeviceGuard guard(device_);
    PLEURA_CUDA_CHECK_LOG(cudaStreamSynchronize(stream_));
    watched_.clear();
    nccl().comm_destroy(comm_);
    PLEURA_CUDA_CHECK_LOG(cudaEventDestroy(inputs_ready_));
    PLEURA_CUDA_CHECK_LOG(cudaStreamDestroy(stream_));
  }

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  int local_rank() const override { return host_.local_rank(); }
  int local_size() const override { return host_.local_size(); }
  std::string describe() const override {
    return cat("NCCL ", version_, " on cuda:", device_, " over ", host_.describe());
  }

  void all_reduce_sum(Tensor& t) override {
    if (!t.device().is_cuda()) return host_.all_reduce_sum(t);
    order_compute_after(enqueue_all_reduce(t, "all_reduce_sum"));
  }
  std::unique_ptr<PendingReduce> all_reduce_sum_async(Tensor& t) override {
    if (!t.device().is_cuda()) return host_.all_reduce_sum_async(t);
    return std::make_unique<NcclPendingReduce>(t, enqueue_all_reduce(t, "all_reduce_sum_async"), device_);
  }
  void broadcast(Tensor& t, int root) override {
    if (!t.device().is_cuda()) return host_.broadcast(t, root);
    PLEURA_CHECK(root >= 0 && root < size(), "[communicator] broadcast from rank ", root, ": expected 0..",
                 size() - 1);
    const ncclDataType_t type = nccl_type(t, "broadcast");
    order_compute_after(collective(t, "broadcast", [&] {
      PLEURA_NCCL_CHECK(nccl().broadcast(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, root, comm_, stream_));
    }));
  }
  void all_reduce_sum(std::vector<double>& values) override { host_.all_reduce_sum(values); }
  void broadcast(std::vector<double>& values, int root) override { host_.broadcast(values, root); }
  std::vector<double> all_gather(const std::vector<double>& mine) override { return host_.all_gather(mine); }
  void barrier() override { host_.barrier(); }
  [[noreturn]] void abort(int code) override {
    nccl().comm_abort(comm_);
    host_.abort(code);
    std::_Exit(code);  // not reached (host_.abort does not return); nvcc's host pass does not see that
  }

 private:
  using Clock = std::chrono::steady_clock;
  // A collective on the NCCL stream that the watchdog times: its completion event.
  struct Watched {
    std::shared_ptr<Event> done;
    Clock::time_point since;
    const char* what;
  };

  // The in-place sum of `t` on the NCCL stream (see collective); its completion event.
  std::shared_ptr<Event> enqueue_all_reduce(Tensor& t, const char* what) {
    const ncclDataType_t type = nccl_type(t, what);
    return collective(t, what, [&] {
      PLEURA_NCCL_CHECK(nccl().all_reduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, ncclSum, comm_, stream_));
    });
  }

  // Runs `enqueue` on the NCCL stream after the compute stream's work so far, and returns the event
  // recorded after it, which the watchdog times.
  template <class Enqueue>
  std::shared_ptr<Event> collective(const Tensor& t, const char* what, Enqueue&& enqueue) {
    PLEURA_CHECK(t.device().index == device_, "[communicator] ", what, " of ", ::pleura::describe(t),
                 ": this rank's NCCL communicator is on cuda:", device_);
    cuda::DeviceGuard guard(device_);
    PLEURA_CUDA_CHECK(cudaEventRecord(inputs_ready_, cuda::stream(device_)));
    PLEURA_CUDA_CHECK(cudaStreamWaitEvent(stream_, inputs_ready_, 0));
    enqueue();
    auto done = std::make_shared<Event>(device_);
    PLEURA_CUDA_CHECK(cudaEventRecord(done->get(), stream_));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      watched_.push_back({done, Clock::now(), what});
    }
    wake_.notify_all();
    return done;
  }

  // The compute stream's next work waits for `done` (a synchronous collective's result is then in place).
  void order_compute_after(const std::shared_ptr<Event>& done) {
    cuda::DeviceGuard guard(device_);
    PLEURA_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(device_), done->get(), 0));
  }

  // The watchdog: polls the collectives in flight, oldest first (the stream runs them in that order);
  // one past the timeout aborts NCCL and ends the process.
  void watch() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::milliseconds(200));
      cuda::DeviceGuard guard(device_);
      while (!stop_ && !watched_.empty()) {
        const Watched& oldest = watched_.front();
        const cudaError_t state = cudaEventQuery(oldest.done->get());
        if (state == cudaSuccess) {
          watched_.pop_front();
          continue;
        }
        const double waited = std::chrono::duration<double>(Clock::now() - oldest.since).count();
        if (state == cudaErrorNotReady && waited < timeout_) break;
        std::fprintf(stderr,
                     "pleura: error: rank %d of %d: NCCL %s on cuda:%d did not finish within %.0f s (%s); "
                     "aborting NCCL and ending this rank (PLEURA_NCCL_TIMEOUT_S sets the limit)\n",
                     rank(), size(), oldest.what, device_, timeout_,
                     state == cudaErrorNotReady ? "a rank stopped taking part" : cudaGetErrorString(state));
        nccl().comm_abort(comm_);
        std::_Exit(1);
      }
    }
  }

  Communicator& host_;
  const int device_;
  const double timeout_;
  std::string version_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t inputs_ready_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::deque<Watched> watched_;  // under mutex_
  std::thread watchdog_;
};

}  // namespace

bool nccl_built() { return true; }

std::unique_ptr<Communicator> make_gpu_communicator(Communicator& host, int device) {
  cuda::require_device(device);
  return std::make_unique<NcclCommunicator>(host, device);
}

}  // namespace pleura

#endif  // PLEURA_WITH_NCCL
