// cuDNN descriptors and the conv2d algorithm cache (declared in cuda/conv2d_cudnn.h, used by cuda/conv2d.cu;
// CPU twin of the op: cpu/conv2d.cpp; tests: tests/ops/test_conv2d.cpp, gpu suite).
//
// Candidates: cuDNN's heuristics (cudnnGet*_v7) ranked list, then a fixed fallback list, those that cuDNN
// accepts for these descriptors (its workspace query succeeds) with a workspace under 1 GiB. Choice
// (engine/conv_algorithm_choice.h): measured, each candidate run on the pass's operands and timed, the
// fastest kept (engine/algorithm_race.h); or reproducible, the first deterministic candidate, else the
// first. Math modes:
// - TF32 allowed: CUDNN_DEFAULT_MATH on the descriptor (TF32 tensor cores on Ampere and later, as PyTorch
//   does). CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION is never used: it may down-convert float32 data to fp16.
// - strict FP32: CUDNN_FMA_MATH, and only algorithms that sum the products directly (implicit/explicit
//   GEMM, direct); FFT and Winograd transforms add rounding error that scales with the largest output,
//   which would break the CPU parity bound on small outputs.
// - bfloat16 storage (the bf16 policy; channels-last copies): tensor-core math (CUDNN_TENSOR_OP_MATH, or
//   the default), float32 accumulation, and again only algorithms that sum the products directly. When
//   cuDNN offers none (an old GPU, an odd shape), the choice says so and conv2d runs the float32 pass on
//   bf16-rounded copies.
#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "cuda/context.h"
#include "cuda/conv2d_cudnn.h"
#include "cuda/event_timer.h"
#include "engine/algorithm_race.h"
#include "engine/conv_algorithm_choice.h"
#include "engine/counters.h"
#include "engine/error.h"

namespace pleura::cuda {

namespace {

constexpr size_t kMaxWorkspaceBytes = size_t{1} << 30;

// cuDNN's 4-D descriptors take int sizes; the element count of each tensor must fit an int as well.
int to_int(int64_t v, const char* what, const Tensor& t) {
  PLEURA_CHECK(v >= 0 && v <= INT_MAX, "[conv2d] ", what, " = ", v, " does not fit cuDNN's int (", describe(t), ")");
  return static_cast<int>(v);
}

struct Candidate {
  int algo;
  cudnnMathType_t math;
  bool deterministic;
};

// Ranked candidates from cuDNN's heuristics for the descriptors as they are (math type included).
std::vector<Candidate> heuristic_candidates(cudnnHandle_t h, ConvPass pass, const ConvDescriptors& d) {
  std::vector<Candidate> out;
  int max_count = 0, returned = 0;
  auto keep = [&](const auto& perf) {
    for (int i = 0; i < returned; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS)
        out.push_back({static_cast<int>(perf[i].algo), perf[i].mathType, perf[i].determinism == CUDNN_DETERMINISTIC});
  };
  if (pass == ConvPass::kForward) {
    PLEURA_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(max_count));
    PLEURA_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                              max_count, &returned, perf.data()));
    keep(perf);
  } else if (pass == ConvPass::kBackwardData) {
    PLEURA_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<size_t>(max_count));
    PLEURA_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, d.w.get(), d.y.get(), d.conv.get(), d.x.get(),
                                                                   max_count, &returned, perf.data()));
    keep(perf);
  } else {
    PLEURA_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<size_t>(max_count));
    PLEURA_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(),
                                                                     max_count, &returned, perf.data()));
    keep(perf);
  }
  return out;
}

// Tried after the heuristics' list: the plain GEMM-style algorithms that support every configuration.
std::vector<Candidate> fallback_candidates(ConvPass pass, cudnnMathType_t math) {
  switch (pass) {
    case ConvPass::kForward:
      return {{CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, math, true},
              {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, math, true},
              {CUDNN_CONVOLUTION_FWD_ALGO_GEMM, math, true}};
    case ConvPass::kBackwardData:
      return {{CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, math, true}, {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, math, false}};
    default:
      return {{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, math, true},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, math, false},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, math, false}};
  }
}

// Algorithms that accumulate the products themselves (no FFT / Winograd transform of the operands).
bool sums_directly(ConvPass pass, int algo) {
  switch (pass) {
    case ConvPass::kForward:
      return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
             algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM ||
             algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
    case ConvPass::kBackwardData:
      return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    default:
      return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
             algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  }
}

// cuDNN's workspace query doubles as the "is this algorithm supported here" test: not thrown on failure.
cudnnStatus_t workspace_size(cudnnHandle_t h, ConvPass pass, const ConvDescriptors& d, int algo, size_t* bytes) {
  switch (pass) {
    case ConvPass::kForward:
      return cudnnGetConvolutionForwardWorkspaceSize(h, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                     static_cast<cudnnConvolutionFwdAlgo_t>(algo), bytes);
    case ConvPass::kBackwardData:
      return cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w.get(), d.y.get(), d.conv.get(), d.x.get(),
                                                          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), bytes);
    default:
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x.get(), d.y.get(), d.conv.get(), d.w.get(),
                                                            static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), bytes);
  }
}

const char* pass_name(ConvPass pass) {
  return pass == ConvPass::kForward ? "forward" : pass == ConvPass::kBackwardData ? "backward data" : "backward filter";
}

// The math modes a choice runs under.
enum class ConvMath { kStrictFP32, kTF32, kBF16 };

const char* math_name(ConvMath math) {
  return math == ConvMath::kStrictFP32 ? "strict FP32" : math == ConvMath::kTF32 ? "TF32 allowed" : "bfloat16";
}

// Whether candidate c may run under `math`.
bool acceptable(const Candidate& c, ConvPass pass, ConvMath math) {
  if (c.math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  switch (math) {
    case ConvMath::kStrictFP32: return c.math == CUDNN_FMA_MATH && sums_directly(pass, c.algo);
    case ConvMath::kTF32: return true;
    case ConvMath::kBF16: return sums_directly(pass, c.algo);
  }
  return false;
}

// A candidate cuDNN accepts for these descriptors, with its workspace.
struct Usable {
  ConvAlgo algo;
  bool deterministic;
};

// The candidates `math` allows that cuDNN accepts for these descriptors (its workspace query succeeds) with
// a workspace under the limit, in the heuristics' ranking and then the fallbacks', each (algorithm, math
// type) once.
std::vector<Usable> usable_candidates(cudnnHandle_t h, ConvPass pass, ConvMath math, ConvDescriptors& d) {
  const cudnnMathType_t base = math == ConvMath::kStrictFP32 ? CUDNN_FMA_MATH
                               : math == ConvMath::kBF16     ? CUDNN_TENSOR_OP_MATH
                                                             : CUDNN_DEFAULT_MATH;
  PLEURA_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), base));
  std::vector<Candidate> cands = heuristic_candidates(h, pass, d);
  for (const Candidate& c : fallback_candidates(pass, base)) cands.push_back(c);
  std::vector<Usable> out;
  for (const Candidate& c : cands) {
    if (!acceptable(c, pass, math)) continue;
    const bool seen = std::any_of(out.begin(), out.end(),
                                  [&](const Usable& u) { return u.algo.algo == c.algo && u.algo.math == c.math; });
    if (seen) continue;
    PLEURA_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), c.math));
    size_t bytes = 0;
    if (workspace_size(h, pass, d, c.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > kMaxWorkspaceBytes) continue;
    out.push_back({ConvAlgo{c.algo, c.math, bytes}, c.deterministic});
  }
  return out;
}

// The reproducible choice: the first deterministic candidate, else the first; nullopt when there is none.
std::optional<ConvAlgo> choose_reproducible(const std::vector<Usable>& usable) {
  for (const Usable& u : usable)
    if (u.deterministic) return u.algo;
  if (usable.empty()) return std::nullopt;
  return usable.front().algo;
}

// Runs candidate `i` of the race: a warm-up, then the timed runs the race asks for. A candidate cuDNN
// refuses at run time, or whose workspace cannot be had, fails.
void race_candidate(cudnnHandle_t h, int device, ConvPass pass, ConvDescriptors& d, const ConvAlgo& a,
                    const PassOperands& o, size_t i, AlgorithmRace& race, EventTimer& timer) {
  PLEURA_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), a.math));
  Tensor ws;
  try {
    ws = conv_workspace(a, Device::cuda(device));
  } catch (const Error&) {
    race.failed(i);  // out of memory for this candidate's workspace: the others may need less
    return;
  }
  const cudaStream_t s = stream(device);
  count(Counter::kLibraryCall);
  if (run_conv_pass(h, pass, d, a, conv_workspace_ptr(ws), o, 0.f) != CUDNN_STATUS_SUCCESS) {
    race.failed(i);
    return;
  }
  while (race.wants_another_run(i)) {
    timer.start(s);
    count(Counter::kLibraryCall);
    const cudnnStatus_t status = run_conv_pass(h, pass, d, a, conv_workspace_ptr(ws), o, 0.f);
    const double ms = timer.stop_ms(s);
    if (status != CUDNN_STATUS_SUCCESS) {
      race.failed(i);
      return;
    }
    race.record(i, ms);
  }
}

// The measured choice: every usable candidate run on the pass's own operands and timed, the fastest kept
// (engine/algorithm_race.h); nullopt when there is no usable candidate.
std::optional<ConvAlgo> choose_measured(cudnnHandle_t h, int device, ConvPass pass, ConvDescriptors& d,
                                        const std::vector<Usable>& usable, const PassOperandsFn& operands) {
  if (usable.size() <= 1) return choose_reproducible(usable);
  const PassOperands o = operands();
  EventTimer timer;
  AlgorithmRace race(usable.size());
  for (size_t i = 0; i < usable.size(); ++i) race_candidate(h, device, pass, d, usable[i].algo, o, i, race, timer);
  const std::optional<size_t> best = race.winner();
  // None ran (every workspace out of memory, say): the ranking's choice, whose call will say what fails.
  if (!best) return choose_reproducible(usable);
  return usable[*best].algo;
}

// Whether work on the device's stream is being captured into a CUDA graph (where nothing may wait).
bool capturing(int device) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  PLEURA_CUDA_CHECK(cudaStreamIsCapturing(stream(device), &status));
  return status != cudaStreamCaptureStatusNone;
}

// Everything that changes the choice: device, pass, math mode, policy, shapes, convolution parameters.
using AlgoKey = std::array<int64_t, 19>;

std::mutex g_cache_mutex;
std::map<AlgoKey, std::optional<ConvAlgo>> g_cache;  // nullopt: cuDNN offers no algorithm

AlgoKey key_of(int device, ConvPass pass, ConvMath math, ConvAlgorithmChoice policy, const Tensor& x,
               const Tensor& w, const Conv2dParams& p) {
  return {static_cast<int64_t>(policy),
          device,       static_cast<int64_t>(pass),
          static_cast<int64_t>(math), x.size(0),
          x.size(1),    x.size(2),
          x.size(3),    w.size(0),
          w.size(2),    w.size(3),
          p.stride_h,   p.stride_w,
          p.pad_h,      p.pad_w,
          p.dilation_h, p.dilation_w,
          p.groups,     w.size(1)};
}

// The cached choice for this pass, made now when new; d.conv is left set to its math type. Inside a CUDA
// graph capture nothing can be timed: a measured choice not yet made is taken reproducibly there.
std::optional<ConvAlgo> cached_choice(cudnnHandle_t handle, int device, ConvPass pass, ConvMath math,
                                      const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvDescriptors& d,
                                      const PassOperandsFn& operands) {
  ConvAlgorithmChoice policy = conv_algorithm_choice();
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = g_cache.find(key_of(device, pass, math, policy, x, w, p));
  if (it == g_cache.end() && policy == ConvAlgorithmChoice::kMeasured && capturing(device)) {
    policy = ConvAlgorithmChoice::kReproducible;
    it = g_cache.find(key_of(device, pass, math, policy, x, w, p));
  }
  if (it == g_cache.end()) {
    const std::vector<Usable> usable = usable_candidates(handle, pass, math, d);
    std::optional<ConvAlgo> choice = policy == ConvAlgorithmChoice::kMeasured
                                         ? choose_measured(handle, device, pass, d, usable, operands)
                                         : choose_reproducible(usable);
    it = g_cache.emplace(key_of(device, pass, math, policy, x, w, p), choice).first;
  }
  if (it->second) PLEURA_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv.get(), it->second->math));
  return it->second;
}

}  // namespace

ConvDescriptors make_conv_descriptors(const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvStorage storage) {
  to_int(x.numel(), "input element count", x);
  const cudnnDataType_t type = storage == ConvStorage::kBFloat16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  // bfloat16 copies are channels last (cuda/conv2d.cu makes them so): NHWC activations, KRSC weights.
  const cudnnTensorFormat_t format = storage == ConvStorage::kBFloat16 ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  ConvDescriptors d;
  PLEURA_CUDNN_CHECK(cudnnCreateTensorDescriptor(d.x.out()));
  PLEURA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.x.get(), format, type,
                                                to_int(x.size(0), "N", x), to_int(x.size(1), "C", x),
                                                to_int(x.size(2), "H", x), to_int(x.size(3), "W", x)));
  PLEURA_CUDNN_CHECK(cudnnCreateFilterDescriptor(d.w.out()));
  PLEURA_CUDNN_CHECK(cudnnSetFilter4dDescriptor(d.w.get(), type, format,
                                                to_int(w.size(0), "K", w), to_int(w.size(1), "C / groups", w),
                                                to_int(w.size(2), "R", w), to_int(w.size(3), "S", w)));
  PLEURA_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(d.conv.out()));
  // Cross-correlation (no kernel flip) is what PyTorch and the CPU kernels compute; accumulate in float32.
  PLEURA_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
      d.conv.get(), to_int(p.pad_h, "pad_h", x), to_int(p.pad_w, "pad_w", x), to_int(p.stride_h, "stride_h", x),
      to_int(p.stride_w, "stride_w", x), to_int(p.dilation_h, "dilation_h", x), to_int(p.dilation_w, "dilation_w", x),
      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  PLEURA_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d.conv.get(), to_int(p.groups, "groups", x)));

  int n = 0, k = 0, oh = 0, ow = 0;
  PLEURA_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv.get(), d.x.get(), d.w.get(), &n, &k, &oh, &ow));
  int64_t P = conv2d_output_size(x.size(2), w.size(2), p.stride_h, p.pad_h, p.dilation_h);
  int64_t Q = conv2d_output_size(x.size(3), w.size(3), p.stride_w, p.pad_w, p.dilation_w);
  PLEURA_CHECK(n == x.size(0) && k == w.size(0) && oh == P && ow == Q, "[conv2d] internal error: cuDNN output ", n, "x",
               k, "x", oh, "x", ow, ", expected ", x.size(0), "x", w.size(0), "x", P, "x", Q, " (input ", describe(x),
               ", weight ", describe(w), ")");
  to_int(x.size(0) * w.size(0) * P * Q, "output element count", x);
  PLEURA_CUDNN_CHECK(cudnnCreateTensorDescriptor(d.y.out()));
  PLEURA_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d.y.get(), format, type, n, k, oh, ow));
  return d;
}

cudnnStatus_t run_conv_pass(cudnnHandle_t h, ConvPass pass, const ConvDescriptors& d, const ConvAlgo& a,
                            void* workspace, const PassOperands& o, float beta) {
  const float one = 1.f;
  switch (pass) {
    case ConvPass::kForward:
      return cudnnConvolutionForward(h, &one, d.x.get(), o.a, d.w.get(), o.b, d.conv.get(),
                                     static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), workspace, a.workspace_bytes,
                                     &beta, d.y.get(), o.out);
    case ConvPass::kBackwardData:
      return cudnnConvolutionBackwardData(h, &one, d.w.get(), o.a, d.y.get(), o.b, d.conv.get(),
                                          static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), workspace,
                                          a.workspace_bytes, &beta, d.x.get(), o.out);
    default:
      return cudnnConvolutionBackwardFilter(h, &one, d.x.get(), o.a, d.y.get(), o.b, d.conv.get(),
                                            static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), workspace,
                                            a.workspace_bytes, &beta, d.w.get(), o.out);
  }
}

Tensor conv_workspace(const ConvAlgo& a, Device device) {
  if (a.workspace_bytes == 0) return Tensor();
  return Tensor::empty(Shape{static_cast<int64_t>(a.workspace_bytes)}, DType::kUInt8, device);
}
void* conv_workspace_ptr(const Tensor& ws) { return ws.defined() ? ws.raw() : nullptr; }

ConvAlgo conv_algo(cudnnHandle_t handle, int device, ConvPass pass, const Tensor& x, const Tensor& w,
                   const Conv2dParams& p, ConvDescriptors& d, const PassOperandsFn& operands) {
  const ConvMath math = tf32_allowed() ? ConvMath::kTF32 : ConvMath::kStrictFP32;
  std::optional<ConvAlgo> a = cached_choice(handle, device, pass, math, x, w, p, d, operands);
  if (!a)
    throw_error(cat("[conv2d] cuDNN offers no usable ", pass_name(pass), " algorithm (", math_name(math),
                    ", workspace <= 1 GiB) for input ", describe(x), ", weight ", describe(w)));
  return *a;
}

std::optional<ConvAlgo> conv_algo_bf16(cudnnHandle_t handle, int device, ConvPass pass, const Tensor& x,
                                       const Tensor& w, const Conv2dParams& p, ConvDescriptors& d,
                                       const PassOperandsFn& operands) {
  return cached_choice(handle, device, pass, ConvMath::kBF16, x, w, p, d, operands);
}

}  // namespace pleura::cuda
