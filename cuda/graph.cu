// CUDA graphs (engine/cuda_runtime.h: begin_graph_capture, end_graph_capture, replay_graph, destroy_graph):
// stream capture of the work queued on a device's compute stream, with the caching allocator serving the
// capture from a pool of its own (engine/block_pool.h, open_private). Used by engine/captured_function.h;
// tests: tests/engine/test_captured_function.cpp (gpu suite).
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "cuda/allocator.h"
#include "cuda/context.h"
#include "cuda/cuda_check.h"
#include "engine/block_pool.h"
#include "engine/counters.h"
#include "engine/error.h"

namespace pleura::cuda {

namespace {
std::atomic<uintptr_t> g_next_pool{1};

// The private pool of each device's open capture, and of each live graph (device, pool): the pool is
// released when its graph is destroyed, or at once when the capture makes none.
std::mutex g_pools_mutex;
std::map<int, uintptr_t> g_capturing;
std::map<void*, std::pair<int, uintptr_t>> g_graph_pools;
}  // namespace

void begin_graph_capture(int device) {
  DeviceGuard guard(device);
  // The pool first: if the capture cannot start, it is closed again below.
  const uintptr_t pool = BlockPool::kPrivatePoolBit | g_next_pool.fetch_add(1);
  allocator_open_private(device, stream(device), pool);
  // Relaxed: the allocator may call cudaMalloc for the graph's pool while the stream captures, which the
  // stricter modes refuse; nothing else on this thread runs meanwhile.
  const cudaError_t err = cudaStreamBeginCapture(stream(device), cudaStreamCaptureModeRelaxed);
  if (err != cudaSuccess) {
    cudaGetLastError();
    allocator_close_private(device);
    allocator_release_private(device, pool);
    throw_error(cat("[cuda graph] capture could not start on cuda:", device, ": ", cudaGetErrorString(err)));
  }
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  g_capturing[device] = pool;
}

void* end_graph_capture(int device, std::string& why) {
  DeviceGuard guard(device);
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream(device), &graph);
  const size_t foreign_frees = allocator_close_private(device);
  why.clear();
  if (ended != cudaSuccess || graph == nullptr) {
    cudaGetLastError();  // an invalidated capture is not a sticky error; clear it for the next call
    why = cat("the capture failed: ", cudaGetErrorString(ended),
              " (an operation that waits for the device or copies to the host, inside the captured function)");
  } else if (foreign_frees > 0) {
    why = cat(foreign_frees, " block(s) allocated before the capture were freed during it (memory a replay ",
              "could read after others took it)");
  }
  cudaGraphExec_t exec = nullptr;
  if (why.empty()) {
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    if (made != cudaSuccess) {
      cudaGetLastError();
      why = cat("the graph could not be instantiated: ", cudaGetErrorString(made));
      exec = nullptr;
    }
  }
  if (graph != nullptr) PLEURA_CUDA_CHECK_LOG(cudaGraphDestroy(graph));
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  const uintptr_t pool = g_capturing[device];
  g_capturing.erase(device);
  if (exec == nullptr)
    allocator_release_private(device, pool);
  else
    g_graph_pools[exec] = {device, pool};
  return exec;
}

void replay_graph(void* graph, int device) {
  DeviceGuard guard(device);
  PLEURA_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), stream(device)));
  count(Counter::kGraphLaunch);
}

void destroy_graph(void* graph) {
  if (graph == nullptr) return;
  PLEURA_CUDA_CHECK_LOG(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph)));
  std::lock_guard<std::mutex> lock(g_pools_mutex);
  auto it = g_graph_pools.find(graph);
  if (it == g_graph_pools.end()) return;
  const auto [device, pool] = it->second;
  g_graph_pools.erase(it);
  allocator_release_private(device, pool);
}

}  // namespace pleura::cuda
