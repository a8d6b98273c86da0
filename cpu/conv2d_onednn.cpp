// oneDNN behind the CPU's float32 convolutions (cpu/conv2d_onednn.h): one plan per shape, built once and kept,
// holding oneDNN's forward, input-gradient and weight-gradient primitives for ONE image on ONE thread, and the
// reorders between Pleura's NCHW / OIHW tensors and the blocked layouts oneDNN chose for them. A call runs its
// images over Pleura's pool (parallel_for, one image at a time per thread), so no oneDNN reduction is ever
// split by the thread count: the same bits for any count (oneDNN's own OpenMP threading splits the weight
// gradient's sum over the batch by thread, and its bits then depend on the count). The weight gradient keeps
// one partial sum per image and adds them in image order. The forward applies conv2d_relu's sum and ReLU
// (ConvEpilogue) to each row band as soon as it is written. Without oneDNN in the build, the entry points
// refuse. Tests: tests/ops/test_conv2d_onednn.cpp, tests/ops/test_conv2d_relu.cpp.
#include "cpu/conv2d_onednn.h"

#include "cpu/conv_algorithm.h"
#include "engine/error.h"
#include "engine/ops/conv2d_relu.h"

#if PLEURA_WITH_ONEDNN

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/parallel.h"

#if DNNL_VERSION_MAJOR != 2
#error "cpu/conv2d_onednn.cpp is written for oneDNN 2.x (Debian 12's libdnnl-dev 2.6)"
#endif

// libgomp's, which libdnnl (Debian's build uses OpenMP) loads; declared here so that Pleura's own code needs no
// -fopenmp.
extern "C" void omp_set_num_threads(int n);

namespace pleura::cpu {

namespace {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;
constexpr memory::data_type kF32 = memory::data_type::f32;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// oneDNN reads the calling thread's OpenMP thread count when it builds a primitive (and when a reorder runs):
// 1 on every thread that calls it, so that each call stays on the thread Pleura gave it.
void keep_onednn_on_this_thread() {
  thread_local bool done = false;
  if (!done) {
    omp_set_num_threads(1);
    done = true;
  }
}

// The shape of one convolution, batch excluded (the primitives are for one image). A forward row band
// (forward_only) is a convolution of H input rows, ph of padding above them, to P output rows, read from
// and written to channel planes of x_plane_rows and y_plane_rows rows (the whole image's H and P).
struct ShapeKey {
  int64_t C, H, W, K, R, S, P, Q, sh, sw, ph, pw, dh, dw;
  bool bias;
  int64_t x_plane_rows, y_plane_rows;
  bool forward_only;
  auto operator<=>(const ShapeKey&) const = default;
};

ShapeKey key_of(const Tensor& x, const Tensor& w, const Conv2dParams& p, bool bias) {
  const int64_t P = conv2d_output_size(x.size(2), w.size(2), p.stride_h, p.pad_h, p.dilation_h);
  const int64_t Q = conv2d_output_size(x.size(3), w.size(3), p.stride_w, p.pad_w, p.dilation_w);
  return {x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), P, Q, p.stride_h, p.stride_w,
          p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, bias, x.size(2), P, false};
}

// NCHW with one image of `channels` x `rows` x `cols` whose channel planes are `plane_rows` rows apart.
memory::desc plain_desc(int64_t channels, int64_t rows, int64_t cols, int64_t plane_rows) {
  const Dims dims{1, channels, rows, cols};
  if (plane_rows == rows) return memory::desc(dims, kF32, Tag::nchw);
  return memory::desc(dims, kF32, Dims{channels * plane_rows * cols, plane_rows * cols, cols, 1});
}

// A reorder between two layouts of the same tensor, or nothing when they are the same layout.
struct Reorder {
  memory::desc from, to;
  std::unique_ptr<dnnl::reorder> prim;  // null: same layout, no copy
  Reorder() = default;
  Reorder(const memory::desc& from_desc, const memory::desc& to_desc) : from(from_desc), to(to_desc) {
    if (from != to) prim = std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to));
  }
  bool needed() const { return prim != nullptr; }
  // Sizes in floats; a blocked layout pads the channels to whole blocks, so these may exceed numel().
  int64_t to_floats() const { return static_cast<int64_t>(to.get_size() / sizeof(float)); }
  int64_t from_floats() const { return static_cast<int64_t>(from.get_size() / sizeof(float)); }
  void run(dnnl::stream& s, const float* src, float* dst) const {
    memory a(from, cpu_engine(), const_cast<float*>(src)), b(to, cpu_engine(), dst);
    prim->execute(s, a, b);
  }
};

// Everything for one shape (for a forward row band, the forward's part alone). `usable` is false when oneDNN
// has only its reference kernel for some pass.
struct Plan {
  bool usable = false;
  std::string forward_kernel;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
  memory::desc bias;
  memory::desc fwd_scratch, data_scratch, wgt_scratch;  // what each primitive needs of scratch memory
  // Forward: x, w in; y out.
  Reorder fwd_x, fwd_w, fwd_y;
  // Input gradient: grad_y, w in; grad_x out. Weight gradient: x, grad_y in; grad_w out (one partial per image).
  Reorder bwd_gy, bwd_w, bwd_gx, wgt_x, wgt_gy, wgt_gw;
};

bool optimised(const char* impl) { return std::string(impl).rfind("ref", 0) != 0; }

std::unique_ptr<Plan> build_plan(const ShapeKey& k) {
  keep_onednn_on_this_thread();
  auto plan = std::make_unique<Plan>();
  const Dims xd{1, k.C, k.H, k.W}, wd{k.K, k.C, k.R, k.S}, yd{1, k.K, k.P, k.Q}, bd{k.K};
  const Dims strides{k.sh, k.sw}, dilates{k.dh - 1, k.dw - 1}, pad_l{k.ph, k.pw};
  // PyTorch's floor division may leave input rows past the last window: the right padding is then
  // negative, which oneDNN reads the same way (those rows are never used).
  const Dims pad_r{(k.P - 1) * k.sh + (k.R - 1) * k.dh + 1 - k.H - k.ph, (k.Q - 1) * k.sw + (k.S - 1) * k.dw + 1 - k.W - k.pw};
  const memory::desc any_x(xd, kF32, Tag::any), any_w(wd, kF32, Tag::any), any_y(yd, kF32, Tag::any);
  const memory::desc user_x = plain_desc(k.C, k.H, k.W, k.x_plane_rows), user_y = plain_desc(k.K, k.P, k.Q, k.y_plane_rows);
  const memory::desc user_w(wd, kF32, Tag::oihw);
  plan->bias = memory::desc(bd, kF32, Tag::x);
  try {
    const auto alg = dnnl::algorithm::convolution_direct;
    // The scratch memory a primitive needs is passed in by each call (thread_scratch), so that one primitive
    // runs on several threads at once.
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto fwd_desc = k.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, any_x, any_w,
                                                                   plan->bias, any_y, strides, dilates, pad_l, pad_r)
                                 : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, alg, any_x, any_w,
                                                                   any_y, strides, dilates, pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc fwd_pd(fwd_desc, attr, cpu_engine());
    if (k.forward_only) {
      if (!optimised(fwd_pd.impl_info_str())) return plan;
      plan->forward_kernel = fwd_pd.impl_info_str();
      plan->fwd_scratch = fwd_pd.scratchpad_desc();
      plan->fwd = dnnl::convolution_forward(fwd_pd);
      plan->fwd_x = Reorder(user_x, fwd_pd.src_desc());
      plan->fwd_w = Reorder(user_w, fwd_pd.weights_desc());
      plan->fwd_y = Reorder(fwd_pd.dst_desc(), user_y);
      plan->usable = true;
      return plan;
    }
    const dnnl::convolution_backward_data::primitive_desc data_pd(
        dnnl::convolution_backward_data::desc(alg, any_x, any_w, any_y, strides, dilates, pad_l, pad_r), attr,
        cpu_engine(), fwd_pd);
    const dnnl::convolution_backward_weights::primitive_desc wgt_pd(
        dnnl::convolution_backward_weights::desc(alg, any_x, any_w, any_y, strides, dilates, pad_l, pad_r), attr,
        cpu_engine(), fwd_pd);
    if (!optimised(fwd_pd.impl_info_str()) || !optimised(data_pd.impl_info_str()) ||
        !optimised(wgt_pd.impl_info_str()))
      return plan;
    plan->forward_kernel = fwd_pd.impl_info_str();
    plan->fwd_scratch = fwd_pd.scratchpad_desc();
    plan->data_scratch = data_pd.scratchpad_desc();
    plan->wgt_scratch = wgt_pd.scratchpad_desc();
    plan->fwd = dnnl::convolution_forward(fwd_pd);
    plan->bwd_data = dnnl::convolution_backward_data(data_pd);
    plan->bwd_weights = dnnl::convolution_backward_weights(wgt_pd);
    plan->fwd_x = Reorder(user_x, fwd_pd.src_desc());
    plan->fwd_w = Reorder(user_w, fwd_pd.weights_desc());
    plan->fwd_y = Reorder(fwd_pd.dst_desc(), user_y);
    plan->bwd_gy = Reorder(user_y, data_pd.diff_dst_desc());
    plan->bwd_w = Reorder(user_w, data_pd.weights_desc());
    plan->bwd_gx = Reorder(data_pd.diff_src_desc(), user_x);
    plan->wgt_x = Reorder(user_x, wgt_pd.src_desc());
    plan->wgt_gy = Reorder(user_y, wgt_pd.diff_dst_desc());
    plan->wgt_gw = Reorder(wgt_pd.diff_weights_desc(), user_w);
    plan->usable = true;
  } catch (const dnnl::error&) {
    // No kernel at all for this shape: conv2d keeps im2col for it.
    plan->usable = false;
  }
  return plan;
}

// The plans, built at first use of a shape and kept for the process (a UNet has a few dozen shapes).
const Plan& plan_for(const ShapeKey& key) {
  static std::mutex mutex;
  static std::map<ShapeKey, std::unique_ptr<Plan>> plans;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, build_plan(key)).first;
  return *it->second;
}

// This thread's scratch buffers, one per use (Scratch), kept between calls and grown as needed. Not tensors from
// the host cache: how many threads run a call's items at once varies with the machine's load, and scratch
// tensors taken per item made the cache's misses vary with it (tests count them to check a training step's
// steady state).
enum Scratch { kPad, kX, kY, kGy, kGy2, kGx, kScratchSlots };

struct FreeAligned {
  void operator()(float* p) const { std::free(p); }
};

// 64-byte aligned, as the host allocator's blocks were (oneDNN's kernels load whole cache lines).
float* thread_scratch(Scratch slot, int64_t floats) {
  thread_local std::unique_ptr<float, FreeAligned> buffers[kScratchSlots];
  thread_local int64_t capacity[kScratchSlots] = {};
  if (floats > capacity[slot]) {
    buffers[slot].reset();  // free first: never hold the old and the new buffer together
    const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
    PLEURA_CHECK(p != nullptr, "[conv2d onednn] out of memory for ", bytes, " bytes of scratch");
    buffers[slot].reset(p);
    capacity[slot] = floats;
  }
  return buffers[slot].get();
}

// A primitive's scratch memory for one call on this thread, seen as `desc`.
memory scratch_memory(const memory::desc& desc) {
  const int64_t floats = static_cast<int64_t>((desc.get_size() + sizeof(float) - 1) / sizeof(float));
  return memory(desc, cpu_engine(), floats > 0 ? thread_scratch(kPad, floats) : nullptr);
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// A tensor's data in the layout `r` wants: the tensor itself when no reorder is needed, else this thread's
// scratch `slot` holding the reordered copy.
const float* in_layout(const Reorder& r, const float* data, Scratch slot) {
  if (!r.needed()) return data;
  float* copy = thread_scratch(slot, r.to_floats());
  r.run(thread_stream(), data, copy);
  return copy;
}

// Where a primitive writes an output that `r` then takes to Pleura's layout: `dst` itself, or scratch `slot`.
float* out_buffer(const Reorder& r, float* dst, Scratch slot) {
  return r.needed() ? thread_scratch(slot, r.from_floats()) : dst;
}

void finish_output(const Reorder& r, const float* produced, float* dst) {
  if (r.needed()) r.run(thread_stream(), produced, dst);
}

// The weights in the layout `r` wants, reordered once per call on the calling thread.
Tensor weights_in_layout(const Reorder& r, const Tensor& w) {
  if (!r.needed()) return w;
  Tensor out = Tensor::empty({r.to_floats()});
  r.run(thread_stream(), w.data<float>(), out.data<float>());
  return out;
}

// Where oneDNN beat im2col in bench_conv_layers (AlbuNet at 256x256, batch 2, 2 threads, AMD EPYC Zen 3 with
// AVX2, 2026-12-06; forward and forward + backward time over im2col's): the stem's 7x7 stride 2 (0.55, 0.71),
// 3x3 stride 1 on 16x16 outputs and more (0.64-1.0, mostly 0.8); not on 8x8 outputs (1.2, 1.1-1.2: too few
// pixels per image for its blocking), nor 3x3 stride 2 (0.9-1.3, 1.1-1.4), nor the final 1x1 to one channel
// (1.8: a whole block of 8 output channels computed for one). Nor 1x1 convolutions (ResNet50-UNet at
// 256x256, batch 2, Intel Xeon with AVX-512, 2026-12-06: 1.04-1.86x forward, 0.97-1.31x forward + backward):
// for them im2col is a plain matrix product on the NCHW data, while oneDNN copies to and from its layout.
bool pays_off(const ShapeKey& k) {
  const bool large_kernel = k.R * k.S >= 25, pointwise = k.R * k.S == 1;
  return k.K >= 8 && k.P * k.Q >= 256 && !pointwise && (large_kernel || (k.sh == 1 && k.sw == 1));
}

// The forward's input in row bands of about this many bytes (all channels, halo rows included): each
// item's copy to oneDNN's layout stays in the cache for the convolution that reads it, and the extra memory
// is a band per thread instead of a copy of the whole input (an AlbuNet inference at 1024x1024 holds a 512 MiB
// input at its widest layer). But never fewer than kMinBandPixels output pixels per band.
constexpr int64_t kBandBytes = int64_t{2} << 20;
constexpr int64_t kMinBandPixels = 1024;

struct RowBand {
  ShapeKey key;  // forward_only, K = the chunk's channels
  int64_t first_input_row, first_output_row;
};

// The forward's row bands, of equal rows give or take one (a rule of the shapes alone). One
// band, the whole image, when the input is small, or when oneDNN would run some band with another kernel or
// weight layout than the first (every band shares the chunk's weights in one layout).
std::vector<RowBand> row_bands(const Tensor& x, const Tensor& w, const Conv2dParams& p, bool bias, int64_t chunk) {
  ShapeKey whole = key_of(x, w, p, bias);
  whole.K = chunk;
  whole.forward_only = true;
  const std::vector<RowBand> one{{whole, 0, 0}};
  const int64_t H = whole.H, P = whole.P, halo = (whole.R - 1) * whole.dh;
  const int64_t row_bytes = whole.C * whole.W * int64_t{sizeof(float)};
  const int64_t rows = std::max((kBandBytes / row_bytes - halo) / whole.sh, (kMinBandPixels + whole.Q - 1) / whole.Q);
  const int64_t count = (P + std::max<int64_t>(rows, 1) - 1) / std::max<int64_t>(rows, 1);
  if (count <= 1) return one;
  std::vector<RowBand> bands;
  const Plan* first = nullptr;
  for (int64_t b = 0; b < count; ++b) {
    const int64_t p0 = P * b / count, p1 = P * (b + 1) / count;
    const int64_t top = p0 * whole.sh - whole.ph;  // the first window's first row (negative: padding)
    const int64_t i0 = std::max<int64_t>(top, 0), i1 = std::min(H, (p1 - 1) * whole.sh - whole.ph + halo + 1);
    ShapeKey key = whole;
    key.H = i1 - i0, key.ph = i0 - top, key.P = p1 - p0;
    if (key.H < 1) return one;
    const Plan& plan = plan_for(key);
    if (!plan.usable) return one;
    if (first == nullptr) first = &plan;
    if (plan.forward_kernel != first->forward_kernel || plan.fwd_w.to != first->fwd_w.to) return one;
    bands.push_back({key, i0, p0});
  }
  return bands;
}

// Output channels per forward chunk when an image is one band: a quarter of K where that is a whole number
// of 16-channel blocks (the AVX-512 block; two of AVX2's), a half where that is, else all of them; a chunk
// oneDNN has no kernel for falls back to all of them. Chunks spread one image over threads, but a chunk of 16
// channels gives oneDNN's kernel one output block per input load (on AVX-512 Xeon: 120-133 GFLOP/s per
// thread against 157-162 with 32 or more, DNNL_VERBOSE, AlbuNet at 1024x1024).
int64_t forward_chunk(const Tensor& x, const Tensor& w, const Conv2dParams& p, bool bias) {
  const int64_t K = w.size(0);
  for (int64_t parts : {4, 2}) {
    if (K % (16 * parts) != 0) continue;
    ShapeKey key = key_of(x, w, p, bias);
    key.K = K / parts;
    if (plan_for(key).usable) return K / parts;
  }
  return K;
}

// How the forward splits its work: an image in several row bands runs all K output channels per band (the
// bands spread it over threads); an image that is one band is split into chunks of output channels.
struct ForwardSplit {
  int64_t chunk;
  std::vector<RowBand> bands;
};
ForwardSplit forward_split(const Tensor& x, const Tensor& w, const Conv2dParams& p, bool bias) {
  const int64_t K = w.size(0);
  std::vector<RowBand> bands = row_bands(x, w, p, bias, K);
  if (bands.size() > 1) return {K, std::move(bands)};
  const int64_t chunk = forward_chunk(x, w, p, bias);
  return {chunk, row_bands(x, w, p, bias, chunk)};
}

// The epilogue on the part of y just written: `channels` runs of `run` floats, `plane` apart, the first at
// offset `first` of y (and of the residual, which has y's shape).
void apply_epilogue(const ConvEpilogue& e, int64_t first, int64_t channels, int64_t run, int64_t plane, float* y) {
  for (int64_t k = 0; k < channels; ++k) {
    const int64_t at = first + k * plane;
    add_relu_inplace(y + at, e.residual != nullptr ? e.residual + at : nullptr, run);
  }
}

const Plan& usable_plan(const Tensor& x, const Tensor& w, const Conv2dParams& p, bool bias, const char* op) {
  PLEURA_CHECK(onednn_can_run(x, w, p), "[", op, "] oneDNN does not take this convolution (dtype ",
               dtype_name(x.dtype()), ", groups ", p.groups, "; it takes float32 with one group)");
  return plan_for(key_of(x, w, p, bias));
}

}  // namespace

bool onednn_built() { return true; }

bool onednn_can_run(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  // The bias changes the forward primitive, not whether oneDNN has kernels for the shape.
  return x.dtype() == DType::kFloat32 && p.groups == 1 && plan_for(key_of(x, w, p, false)).usable;
}

bool onednn_applies(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  return conv_algorithm() == ConvAlgorithm::kOneDnn && x.dtype() == DType::kFloat32 && p.groups == 1 &&
         pays_off(key_of(x, w, p, false)) && onednn_can_run(x, w, p);
}

std::string onednn_forward_kernel(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if (x.dtype() != DType::kFloat32 || p.groups != 1) return "";
  return plan_for(key_of(x, w, p, false)).forward_kernel;
}

int64_t onednn_forward_bands(const Tensor& x, const Tensor& w, const Conv2dParams& p, bool bias) {
  usable_plan(x, w, p, bias, "conv2d onednn");
  return static_cast<int64_t>(forward_split(x, w, p, bias).bands.size());
}

void conv2d_onednn_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y,
                       const ConvEpilogue& epilogue) {
  usable_plan(x, w, p, bias.defined(), "conv2d onednn");
  keep_onednn_on_this_thread();
  // Work items: (image, row band, chunk of output channels), each copying its band of x to oneDNN's layout
  // on its own thread, so the copies are a band's (cache-sized), not the whole input's. An image has several
  // bands or several chunks, not both (forward_split), and both are rules of the shape alone, so the bits do
  // not depend on the thread count.
  const ForwardSplit split = forward_split(x, w, p, bias.defined());
  const std::vector<RowBand>& bands = split.bands;
  const int64_t K = w.size(0), chunk = split.chunk, chunks = K / chunk, N = x.size(0);
  const int64_t band_count = static_cast<int64_t>(bands.size());
  const Plan& plan0 = plan_for(bands[0].key);
  const int64_t x_image = x.numel() / N, y_image = y.numel() / N, W = x.size(3);
  const int64_t P = y.size(2), Q = y.size(3);
  const int64_t w_chunk = w.numel() / chunks, wb_chunk = plan0.fwd_w.needed() ? plan0.fwd_w.to_floats() : w_chunk;
  // Every chunk's weights in oneDNN's layout (the same for every band: only the rows differ).
  Tensor w_blocked = plan0.fwd_w.needed() ? Tensor::empty({chunks * wb_chunk}) : w;
  if (plan0.fwd_w.needed())
    for (int64_t c = 0; c < chunks; ++c)
      plan0.fwd_w.run(thread_stream(), w.data<float>() + c * w_chunk, w_blocked.data<float>() + c * wb_chunk);
  parallel_for(N * band_count * chunks, 1, [&](int64_t i0, int64_t i1) {
    keep_onednn_on_this_thread();
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / (band_count * chunks), c = i % chunks;
      const RowBand& band = bands[static_cast<size_t>(i / chunks % band_count)];
      const Plan& plan = plan_for(band.key);
      const float* xb = in_layout(plan.fwd_x, x.data<float>() + n * x_image + band.first_input_row * W, kX);
      // Channels [c * chunk, (c + 1) * chunk), the band's rows, of image n.
      float* y_out = y.data<float>() + n * y_image + c * chunk * P * Q + band.first_output_row * Q;
      float* yb = out_buffer(plan.fwd_y, y_out, kY);
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, memory(plan.fwd_x.to, cpu_engine(), const_cast<float*>(xb))},
          {DNNL_ARG_WEIGHTS, memory(plan.fwd_w.to, cpu_engine(), w_blocked.data<float>() + c * wb_chunk)},
          {DNNL_ARG_DST, memory(plan.fwd_y.from, cpu_engine(), yb)},
          {DNNL_ARG_SCRATCHPAD, scratch_memory(plan.fwd_scratch)}};
      if (bias.defined())
        args.emplace(DNNL_ARG_BIAS, memory(plan.bias, cpu_engine(), const_cast<float*>(bias.data<float>()) + c * chunk));
      plan.fwd.execute(thread_stream(), args);
      finish_output(plan.fwd_y, yb, y_out);
      if (epilogue.relu)
        apply_epilogue(epilogue, y_out - y.data<float>(), chunk, band.key.P * Q, P * Q, y.data<float>());
    }
  });
}

void conv2d_onednn_bwd(const Tensor& x, const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor* grad_x,
                       Tensor* grad_w) {
  if (!grad_x && !grad_w) return;
  const Plan& plan = usable_plan(x, w, p, false, "conv2d onednn backward");
  keep_onednn_on_this_thread();
  const int64_t N = x.size(0), x_image = x.numel() / N, y_image = grad_y.numel() / N;
  const Tensor w_blocked = grad_x ? weights_in_layout(plan.bwd_w, w) : Tensor();
  // One partial weight gradient per image, in oneDNN's layout, added in image order below.
  const int64_t partial_floats = plan.wgt_gw.from_floats();
  Tensor partials = grad_w ? Tensor::empty({N, partial_floats}) : Tensor();
  const float* px = x.data<float>();
  const float* pgy = grad_y.data<float>();
  parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    keep_onednn_on_this_thread();
    // The blocked grad_x is taken to grad_x before the weight gradient starts: its buffer then holds x.
    dnnl::stream& s = thread_stream();
    for (int64_t n = n0; n < n1; ++n) {
      const float* gy_n = pgy + n * y_image;
      const float* gy_for_data = nullptr;  // grad_y in the input gradient's layout
      if (grad_x) {
        const float* gyb = gy_for_data = in_layout(plan.bwd_gy, gy_n, kGy);
        float* gx_n = grad_x->data<float>() + n * x_image;
        float* gxb = out_buffer(plan.bwd_gx, gx_n, kGx);
        plan.bwd_data.execute(s, {{DNNL_ARG_DIFF_DST, memory(plan.bwd_gy.to, cpu_engine(), const_cast<float*>(gyb))},
                                  {DNNL_ARG_WEIGHTS, memory(plan.bwd_w.to, cpu_engine(), const_cast<float*>(w_blocked.data<float>()))},
                                  {DNNL_ARG_DIFF_SRC, memory(plan.bwd_gx.from, cpu_engine(), gxb)},
                                  {DNNL_ARG_SCRATCHPAD, scratch_memory(plan.data_scratch)}});
        finish_output(plan.bwd_gx, gxb, gx_n);
      }
      if (grad_w) {
        // The input gradient's copy of grad_y serves here too when both want the same layout.
        const bool shared = grad_x && plan.wgt_gy.to == plan.bwd_gy.to && plan.bwd_gy.needed();
        const float* gyb = shared ? gy_for_data : in_layout(plan.wgt_gy, gy_n, kGy2);
        const float* xb = in_layout(plan.wgt_x, px + n * x_image, kGx);
        plan.bwd_weights.execute(
            s, {{DNNL_ARG_SRC, memory(plan.wgt_x.to, cpu_engine(), const_cast<float*>(xb))},
                {DNNL_ARG_DIFF_DST, memory(plan.wgt_gy.to, cpu_engine(), const_cast<float*>(gyb))},
                {DNNL_ARG_DIFF_WEIGHTS, memory(plan.wgt_gw.from, cpu_engine(), partials.data<float>() + n * partial_floats)},
                {DNNL_ARG_SCRATCHPAD, scratch_memory(plan.wgt_scratch)}});
      }
    }
  });
  if (!grad_w) return;
  // Sum over images, element by element, in image order: the bits do not depend on which thread ran what.
  float* sum = partials.data<float>();
  parallel_for(partial_floats, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t n = 1; n < N; ++n) {
      const float* part = sum + n * partial_floats;
      for (int64_t i = i0; i < i1; ++i) sum[i] += part[i];
    }
  });
  if (plan.wgt_gw.needed())
    plan.wgt_gw.run(thread_stream(), sum, grad_w->data<float>());
  else
    std::copy(sum, sum + partial_floats, grad_w->data<float>());
}

}  // namespace pleura::cpu

#else  // no oneDNN in this build

namespace pleura::cpu {

bool onednn_built() { return false; }
bool onednn_can_run(const Tensor&, const Tensor&, const Conv2dParams&) { return false; }
bool onednn_applies(const Tensor&, const Tensor&, const Conv2dParams&) { return false; }
std::string onednn_forward_kernel(const Tensor&, const Tensor&, const Conv2dParams&) { return ""; }
int64_t onednn_forward_bands(const Tensor&, const Tensor&, const Conv2dParams&, bool) {
  throw_error("[conv2d onednn] this build has no oneDNN (install libdnnl-dev and configure again)");
}

void conv2d_onednn_fwd(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&, Tensor&, const ConvEpilogue&) {
  throw_error("[conv2d onednn] this build has no oneDNN (install libdnnl-dev and configure again)");
}
void conv2d_onednn_bwd(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&, Tensor*, Tensor*) {
  throw_error("[conv2d onednn backward] this build has no oneDNN (install libdnnl-dev and configure again)");
}

}  // namespace pleura::cpu

#endif
