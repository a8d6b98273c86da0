// Stand-in for the CUDA backend in builds without CUDA: it links, reports no device, and every entry
// point that would touch a GPU throws "built without CUDA". Its twin is cuda/runtime.cu.
#include "engine/cuda_runtime.h"
#include "engine/error.h"

namespace pleura::cuda {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw_error(cat("[", what, "] Pleura was built without CUDA (configure with -DPLEURA_CUDA=ON on a machine "
                  "with the CUDA toolkit to use a GPU)"));
}
MathMode g_math_mode = MathMode::kAllowTF32;
}  // namespace

bool built() { return false; }
int device_count() { return 0; }
void require_device(int) { no_cuda("cuda"); }
std::string describe_device(int) { no_cuda("cuda"); }
void* alloc(size_t, int) { no_cuda("cuda alloc"); }
void free(void*, size_t, int) {}
void copy_h2d(void*, const void*, size_t, int) { no_cuda("copy"); }
void copy_d2h(void*, const void*, size_t, int) { no_cuda("copy"); }
void copy_d2d(void*, const void*, size_t, int) { no_cuda("copy"); }
void memset_zero(void*, size_t, int) { no_cuda("zeros"); }
void fill_bytes(void*, unsigned char, size_t, int) { no_cuda("fill"); }
void fill(void*, int64_t, DType, double, int) { no_cuda("fill"); }
void synchronize(int) { no_cuda("synchronize"); }
void* alloc_pinned(size_t) { no_cuda("pinned alloc"); }
void free_pinned(void*) {}
uint64_t record_fence(int) { no_cuda("fence"); }
bool fence_passed(uint64_t) { return true; }  // no fence can exist
MemoryStats memory_stats(int) { no_cuda("memory_stats"); }
void reset_peak_memory(int) { no_cuda("memory_stats"); }
void empty_cache(int) { no_cuda("empty_cache"); }
void begin_graph_capture(int) { no_cuda("graph capture"); }
void* end_graph_capture(int, std::string&) { no_cuda("graph capture"); }
void replay_graph(void*, int) { no_cuda("graph replay"); }
void destroy_graph(void*) {}
void set_math_mode(MathMode mode) { g_math_mode = mode; }
MathMode math_mode() { return g_math_mode; }

}  // namespace pleura::cuda
