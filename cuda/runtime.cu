// The engine's CUDA runtime interface (engine/cuda_runtime.h): device discovery, memory through the
// caching allocator, copies and fills on each device's compute stream, pinned host memory.
#include <cudnn.h>

#include <mutex>
#include <unordered_map>
#include <vector>
#include <string>

#include "cuda/allocator.h"
#include "cuda/context.h"
#include "cuda/launch.h"
#include "engine/counters.h"
#include "engine/cuda_runtime.h"
#include "engine/error.h"

namespace pleura::cuda {

namespace {

struct Discovery {
  int count = 0;
  std::string reason;
};

const Discovery& discovery() {
  static Discovery d = [] {
    Discovery r;
    cudaError_t err = cudaGetDeviceCount(&r.count);
    if (err != cudaSuccess) {
      r.count = 0;
      r.reason = cat("cudaGetDeviceCount returned ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
      cudaGetLastError();
    } else if (r.count == 0) {
      r.reason = "cudaGetDeviceCount found 0 devices";
    }
    return r;
  }();
  return d;
}

template <class T>
__global__ void fill_kernel(T* out, int64_t n, T value) {
  PLEURA_KERNEL_LOOP(i, n) { out[i] = value; }
}

}  // namespace

bool built() { return true; }

int device_count() { return discovery().count; }

void require_device(int index) {
  const Discovery& d = discovery();
  PLEURA_CHECK(d.count > 0, "no CUDA device available: ", d.reason);
  PLEURA_CHECK(index >= 0 && index < d.count, "no CUDA device available: cuda:", index, " requested, ",
               d.count, " device(s) present");
}

std::string describe_device(int index) {
  require_device(index);
  cudaDeviceProp prop{};
  PLEURA_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  int driver = 0, runtime = 0;
  PLEURA_CUDA_CHECK(cudaDriverGetVersion(&driver));
  PLEURA_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  int cublas_version = 0;
  PLEURA_CUBLAS_CHECK(cublasGetVersion(cublas(index), &cublas_version));
  return cat("cuda:", index, " ", prop.name, " (sm_", prop.major, prop.minor, ", ", prop.multiProcessorCount,
             " SMs, ", prop.totalGlobalMem >> 20, " MiB), driver ", driver, ", runtime ", runtime,
             ", cuBLAS ", cublas_version, ", cuDNN ", cudnnGetVersion());
}

void* alloc(size_t bytes, int device) { return allocator_alloc(bytes, device, stream(device)); }

void free(void* ptr, size_t bytes, int device) { allocator_free(ptr, bytes, device, stream(device)); }

void copy_h2d(void* dst_dev, const void* src, size_t bytes, int device) {
  DeviceGuard guard(device);
  // From pageable memory this returns once the source has been staged, so the caller may free it.
  PLEURA_CUDA_CHECK(cudaMemcpyAsync(dst_dev, src, bytes, cudaMemcpyHostToDevice, stream(device)));
  count(Counter::kCopyOrFill);
}

void copy_d2h(void* dst, const void* src_dev, size_t bytes, int device) {
  DeviceGuard guard(device);
  PLEURA_CUDA_CHECK(cudaMemcpyAsync(dst, src_dev, bytes, cudaMemcpyDeviceToHost, stream(device)));
  PLEURA_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
  count(Counter::kDeviceToHostCopy);
}

void copy_d2d(void* dst_dev, const void* src_dev, size_t bytes, int device) {
  DeviceGuard guard(device);
  PLEURA_CUDA_CHECK(cudaMemcpyAsync(dst_dev, src_dev, bytes, cudaMemcpyDeviceToDevice, stream(device)));
  count(Counter::kCopyOrFill);
}

void memset_zero(void* ptr_dev, size_t bytes, int device) {
  DeviceGuard guard(device);
  PLEURA_CUDA_CHECK(cudaMemsetAsync(ptr_dev, 0, bytes, stream(device)));
  count(Counter::kCopyOrFill);
}

void fill_bytes(void* ptr_dev, unsigned char value, size_t bytes, int device) {
  DeviceGuard guard(device);
  PLEURA_CUDA_CHECK(cudaMemsetAsync(ptr_dev, value, bytes, stream(device)));
  count(Counter::kCopyOrFill);
}

void fill(void* ptr_dev, int64_t n, DType dtype, double value, int device) {
  if (n == 0) return;
  DeviceGuard guard(device);
  cudaStream_t s = stream(device);
  if (dtype == DType::kFloat32) {
    fill_kernel<<<grid_for(n), kBlockThreads, 0, s>>>(static_cast<float*>(ptr_dev), n, static_cast<float>(value));
  } else if (dtype == DType::kFloat64) {
    fill_kernel<<<grid_for(n), kBlockThreads, 0, s>>>(static_cast<double*>(ptr_dev), n, value);
  } else {
    throw_error(cat("[fill] CUDA fill supports float32 and float64, got ", dtype_name(dtype)));
  }
  PLEURA_CUDA_LAUNCH_CHECK();
}

void synchronize(int device) {
  DeviceGuard guard(device);
  PLEURA_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
  count(Counter::kSynchronization);
}

void* alloc_pinned(size_t bytes) {
  require_device(0);
  void* ptr = nullptr;
  PLEURA_CUDA_CHECK(cudaMallocHost(&ptr, bytes == 0 ? 1 : bytes));
  count(Counter::kPinnedAlloc);
  return ptr;
}

void free_pinned(void* ptr) {
  PLEURA_CUDA_CHECK_LOG(cudaFreeHost(ptr));
  count(Counter::kPinnedFree);
}

namespace {

// Recorded fences by id, and events ready for reuse per device (an event belongs to the device it was
// created on; creating one costs a driver call).
struct Fences {
  struct Pending {
    cudaEvent_t event;
    int device;
  };
  std::mutex mutex;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, Pending> pending;
  std::unordered_map<int, std::vector<cudaEvent_t>> spare;
};

Fences& fences() {
  static Fences* f = new Fences;  // never destroyed: queried by pools that live to the process's end
  return *f;
}

}  // namespace

uint64_t record_fence(int device) {
  DeviceGuard guard(device);
  Fences& f = fences();
  std::lock_guard<std::mutex> lock(f.mutex);
  std::vector<cudaEvent_t>& spare = f.spare[device];
  cudaEvent_t event = nullptr;
  if (spare.empty()) {
    PLEURA_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  } else {
    event = spare.back();
    spare.pop_back();
  }
  PLEURA_CUDA_CHECK(cudaEventRecord(event, stream(device)));
  const uint64_t id = f.next_id++;
  f.pending.emplace(id, Fences::Pending{event, device});
  return id;
}

bool fence_passed(uint64_t fence) {
  Fences& f = fences();
  std::lock_guard<std::mutex> lock(f.mutex);
  auto it = f.pending.find(fence);
  if (it == f.pending.end()) return true;  // passed and forgotten (or never recorded)
  const Fences::Pending p = it->second;
  DeviceGuard guard(p.device);
  const cudaError_t status = cudaEventQuery(p.event);
  if (status == cudaErrorNotReady) return false;
  PLEURA_CUDA_CHECK(status);
  f.spare[p.device].push_back(p.event);
  f.pending.erase(it);
  return true;
}

MemoryStats memory_stats(int device) { return allocator_stats(device); }
void reset_peak_memory(int device) { allocator_reset_peak(device); }
void empty_cache(int device) { allocator_empty_cache(device); }

}  // namespace pleura::cuda
