// GPU benchmark of every engine op and of cuDNN convolutions on the ResNet34/ResNet50 layer shapes.
// Memory-bound ops report achieved GB/s (the fewest bytes the op must move, over its time) as a ratio
// to the device-to-device copy bandwidth measured in this process; convolutions report TFLOP/s as a
// ratio to cuBLAS's TF32 GEMM rate measured here (the default math mode allows TF32, as PyTorch does
// for cuDNN). Usage: bench_cuda_ops [--json FILE] [--quick]
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cuda/baselines.h"
#include "engine/cuda_runtime.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/flip.h"
#include "engine/ops/gated_residual_relu.h"
#include "engine/ops/global_avg_pool.h"
#include "engine/ops/max_pool2d.h"
#include "engine/ops/maximum.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "engine/ops/scse.h"
#include "engine/ops/sigmoid.h"
#include "engine/ops/upsample.h"
#include "engine/random.h"

using namespace pleura;

namespace {

struct Row {
  std::string name;
  double ms;
  double amount;  // bytes (memory-bound rows) or FLOPs (convolutions)
  double rate;    // GB/s or TFLOP/s
  double ratio;   // to the copy bandwidth or to the TF32 GEMM rate
};

std::vector<Row> g_rows;
double g_copy_gbps = 0, g_gemm_tf32 = 0;

Tensor rnd(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  return rand_uniform(s, rng, -1, 1, DType::kFloat32, Device::cuda());
}

void mem_row(const std::string& name, double bytes, const std::function<void()>& fn) {
  double ms = bench::time_ms(fn);
  double gbps = bytes / (ms * 1e-3) / 1e9;
  g_rows.push_back({name, ms, bytes, gbps, gbps / g_copy_gbps});
  std::printf("%-34s %9.3f ms %9.1f GB/s  %5.2f of copy\n", name.c_str(), ms, gbps, gbps / g_copy_gbps);
}

void bench_pointwise(int64_t n, int64_t c, int64_t h, int64_t w) {
  Shape s{n, c, h, w};
  double e = static_cast<double>(s.numel()) * 4;  // bytes of one float tensor of this shape
  Tensor x = rnd(s, 1), y = rnd(s, 2), g = rnd(s, 3), out = Tensor::empty(s, DType::kFloat32, Device::cuda());
  Tensor gx = Tensor::empty(s, DType::kFloat32, Device::cuda()), gy = Tensor::empty(s, DType::kFloat32, Device::cuda());
  std::string tag = " " + s.str();
  mem_row("relu fwd" + tag, 2 * e, [&] { cuda::relu_fwd(x, out); });
  mem_row("relu bwd", 3 * e, [&] { cuda::relu_bwd(y, g, gx); });
  mem_row("sigmoid fwd", 2 * e, [&] { cuda::sigmoid_fwd(x, out); });
  mem_row("sigmoid bwd", 3 * e, [&] { cuda::sigmoid_bwd(y, g, gx); });
  mem_row("add fwd", 3 * e, [&] { cuda::add_fwd(x, y, out); });
  mem_row("maximum fwd", 3 * e, [&] { cuda::maximum_fwd(x, y, out); });
  mem_row("maximum bwd", 5 * e, [&] { cuda::maximum_bwd(x, y, g, &gx, &gy); });
  Tensor cg = rnd({n, c, 1, 1}, 4), cgg = Tensor::empty({n, c, 1, 1}, DType::kFloat32, Device::cuda());
  Tensor sg = rnd({n, 1, h, w}, 5), sgg = Tensor::empty({n, 1, h, w}, DType::kFloat32, Device::cuda());
  mem_row("mul channel fwd", 2 * e, [&] { cuda::mul_fwd(x, cg, MulBroadcast::kChannel, out); });
  mem_row("mul channel bwd", 3 * e, [&] { cuda::mul_bwd(x, cg, MulBroadcast::kChannel, g, &gx, &cgg); });
  mem_row("mul spatial fwd", 2 * e, [&] { cuda::mul_fwd(x, sg, MulBroadcast::kSpatial, out); });
  mem_row("mul spatial bwd", 3 * e, [&] { cuda::mul_bwd(x, sg, MulBroadcast::kSpatial, g, &gx, &sgg); });
  // Fused SCSE maxout: at least x read and out written, plus the [N,1,H,W] spatial gate written (forward);
  // x and grad_out read, grad_x written, the gate read (backward). The gates and weights are negligible.
  Tensor sw = rnd({1, c, 1, 1}, 13), swg = Tensor::empty({1, c, 1, 1}, DType::kFloat32, Device::cuda());
  Tensor gate = Tensor::empty({n, 1, h, w}, DType::kFloat32, Device::cuda());
  mem_row("scse_maxout fwd", 2 * e + e / c, [&] { cuda::scse_maxout_fwd(x, cg, sw, out, gate); });
  mem_row("scse_maxout bwd", 3 * e + e / c, [&] { cuda::scse_maxout_bwd(x, cg, sw, gate, g, &gx, &cgg, &swg); });
  // SE-ResNeXt's block end relu(x * gate + residual): x and the residual read, y written (forward); y, grad_y
  // and x read, the residual's and x's gradients written (backward). The gate is negligible.
  mem_row("gated_residual_relu fwd", 3 * e, [&] { cuda::gated_residual_relu_fwd(x, cg, y, out); });
  mem_row("gated_residual_relu bwd", 5 * e, [&] { cuda::gated_residual_relu_bwd(x, cg, y, g, &gy, &gx, &cgg); });
  // The UNets' final 1x1 convolution to one channel (direct kernels, cuda/conv2d_single_output.h): x read, the
  // [N,1,H,W] logits written (forward); grad_x written, x read for the weight gradient and the logits'
  // gradient read by both passes (backward).
  Tensor head_w = rnd({1, c, 1, 1}, 14), head_b = rnd({1}, 15);
  Tensor head_gw = Tensor::empty({1, c, 1, 1}, DType::kFloat32, Device::cuda());
  mem_row("conv2d 1x1 -> 1 fwd", e + e / c, [&] { cuda::conv2d_fwd(x, head_w, head_b, Conv2dParams{}, sgg); });
  mem_row("conv2d 1x1 -> 1 bwd", 2 * e + 2 * e / c,
          [&] { cuda::conv2d_bwd(x, head_w, sg, Conv2dParams{}, &gx, &head_gw, nullptr); });
  Tensor scalar = Tensor::empty(Shape{}, DType::kFloat32, Device::cuda());
  mem_row("sum fwd", e, [&] { cuda::sum_fwd(x, 1.0, scalar); });
  mem_row("global_avg_pool fwd", e, [&] { cuda::global_avg_pool_fwd(x, cgg); });
  mem_row("global_avg_pool bwd", e, [&] { cuda::global_avg_pool_bwd(cg, gx); });
  mem_row("hflip fwd", 2 * e, [&] { cuda::hflip_fwd(x, out); });

  // Batch norm in training mode: the minimum is one read of x and one write of y (forward), and a read
  // of x and grad_y with a write of grad_x (backward).
  Tensor bw = rnd({c}, 6), bb = rnd({c}, 7), rm = rnd({c}, 8), rv = Tensor::ones({c}, DType::kFloat32, Device::cuda());
  Tensor sm = Tensor::empty({c}, DType::kFloat32, Device::cuda()), si = Tensor::empty({c}, DType::kFloat32, Device::cuda());
  Tensor gw = Tensor::empty({c}, DType::kFloat32, Device::cuda()), gb = Tensor::empty({c}, DType::kFloat32, Device::cuda());
  BatchNormParams bn;
  mem_row("batch_norm train fwd", 2 * e, [&] { cuda::batch_norm_fwd_train(x, bw, bb, rm, rv, bn, out, sm, si); });
  mem_row("batch_norm train bwd", 3 * e, [&] { cuda::batch_norm_bwd(x, bw, sm, si, true, nullptr, g, &gx, &gw, &gb); });

  // Concat of two halves along channels: read everything once, write it once.
  Shape half{n, c / 2, h, w};
  Tensor c1 = rnd(half, 9), c2 = rnd(half, 10);
  std::vector<Tensor> parts = {c1, c2};
  mem_row("concat fwd", 2 * e, [&] { cuda::concat_fwd(parts, out); });
  std::vector<Tensor> grads = {Tensor::empty(half, DType::kFloat32, Device::cuda()),
                               Tensor::empty(half, DType::kFloat32, Device::cuda())};
  std::vector<int64_t> offsets = {0, c / 2, c};
  mem_row("concat bwd", 2 * e, [&] { cuda::concat_bwd(g, offsets, grads); });

  // Max pooling, ResNet's 3/2/1: read x, write y (a quarter of x) and the argmax (one byte per output).
  MaxPool2dParams mp{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  Shape ps{n, c, h / 2, w / 2};
  Tensor py = Tensor::empty(ps, DType::kFloat32, Device::cuda()), pg = rnd(ps, 11);
  Tensor am = Tensor::empty(ps, max_pool2d_offset_dtype(mp), Device::cuda());
  mem_row("max_pool2d 3/2/1 fwd", e + e / 4 + e / 16, [&] { cuda::max_pool2d_fwd(x, mp, py, am); });
  mem_row("max_pool2d 3/2/1 bwd", e / 4 + e / 16 + e, [&] { cuda::max_pool2d_bwd(pg, am, mp, gx); });

  // Upsample x2 of a quarter-size input to this shape: read e/4, write e.
  Tensor small = rnd(ps, 12), gsmall = Tensor::empty(ps, DType::kFloat32, Device::cuda());
  mem_row("upsample nearest fwd", e + e / 4, [&] { cuda::upsample2x_fwd(small, UpsampleMode::kNearest, out); });
  mem_row("upsample nearest bwd", e + e / 4, [&] { cuda::upsample2x_bwd(g, UpsampleMode::kNearest, gsmall); });
  mem_row("upsample bilinear fwd", e + e / 4, [&] { cuda::upsample2x_fwd(small, UpsampleMode::kBilinear, out); });
  mem_row("upsample bilinear bwd", e + e / 4, [&] { cuda::upsample2x_bwd(g, UpsampleMode::kBilinear, gsmall); });
  // The same as AlbuNet's upsample of a concatenation (upsample2x_of_concat): each half straight into its
  // channel range, one launch per half; the unfused pair (concat, then upsample) moves e/4 more each way.
  Shape quarter_half{n, c / 2, h / 2, w / 2};
  Tensor s1 = rnd(quarter_half, 13), s2 = rnd(quarter_half, 14);
  Tensor gs1 = Tensor::empty(quarter_half, DType::kFloat32, Device::cuda()), gs2 = Tensor::empty_like(gs1);
  mem_row("upsample bilinear of concat fwd", e + e / 4, [&] {
    cuda::upsample2x_fwd(s1, UpsampleMode::kBilinear, out, 0);
    cuda::upsample2x_fwd(s2, UpsampleMode::kBilinear, out, c / 2);
  });
  mem_row("upsample bilinear of concat bwd", e + e / 4, [&] {
    cuda::upsample2x_bwd(g, UpsampleMode::kBilinear, gs1, 0);
    cuda::upsample2x_bwd(g, UpsampleMode::kBilinear, gs2, c / 2);
  });
}

struct ConvShape {
  const char* net;
  const char* layer;
  int64_t c, k, hw, r, stride;  // input channels, output channels, input size, kernel, stride
  int64_t groups;
};

void bench_conv(const ConvShape& cs, int64_t batch) {
  int64_t pad = cs.r / 2;
  Conv2dParams p{.stride_h = cs.stride, .stride_w = cs.stride, .pad_h = pad, .pad_w = pad, .groups = cs.groups};
  Tensor x = rnd({batch, cs.c, cs.hw, cs.hw}, 21);
  Tensor w = rnd({cs.k, cs.c / cs.groups, cs.r, cs.r}, 22);
  Tensor b;
  int64_t out = (cs.hw + 2 * pad - cs.r) / cs.stride + 1;
  Tensor y = Tensor::empty({batch, cs.k, out, out}, DType::kFloat32, Device::cuda());
  Tensor gy = rnd(y.shape(), 23);
  Tensor gx = Tensor::empty(x.shape(), DType::kFloat32, Device::cuda());
  Tensor gw = Tensor::empty(w.shape(), DType::kFloat32, Device::cuda());
  // The first layer's input needs no gradient in training.
  bool first = cs.c == 3;
  double macs = static_cast<double>(batch) * cs.k * out * out * (cs.c / cs.groups) * cs.r * cs.r;
  double fwd = bench::time_ms([&] { cuda::conv2d_fwd(x, w, b, p, y); });
  double bwd = bench::time_ms([&] { cuda::conv2d_bwd(x, w, gy, p, first ? nullptr : &gx, &gw, nullptr); });
  double bwd_flops = (first ? 2 : 4) * macs;
  std::string name = std::string(cs.net) + " " + cs.layer;
  for (int pass = 0; pass < 2; ++pass) {
    double ms = pass == 0 ? fwd : bwd, flops = pass == 0 ? 2 * macs : bwd_flops;
    double tflops = flops / (ms * 1e-3) / 1e12;
    g_rows.push_back({name + (pass == 0 ? " fwd" : " bwd"), ms, flops, tflops, tflops / g_gemm_tf32});
    std::printf("%-34s %9.3f ms %9.1f TFLOP/s %5.2f of TF32 GEMM\n", g_rows.back().name.c_str(), ms, tflops,
                tflops / g_gemm_tf32);
  }
}

void write_json(const std::string& path, const std::string& device) {
  nlohmann::ordered_json j;
  j["device"] = device;
  j["copy_gbps"] = g_copy_gbps;
  j["gemm_tf32_tflops"] = g_gemm_tf32;
  j["rows"] = nlohmann::ordered_json::array();
  for (const Row& r : g_rows) {
    nlohmann::ordered_json row;
    row["name"] = r.name;
    row["ms"] = r.ms;
    row["rate"] = r.rate;
    row["ratio"] = r.ratio;
    j["rows"].push_back(std::move(row));
  }
  std::ofstream(path) << j.dump(2) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string json;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) {
      json = argv[++i];
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: bench_cuda_ops [--json FILE] [--quick]\n");
      return 2;
    }
  }
  try {
    cuda::require_device(0);
    std::string device = cuda::describe_device(0);
    std::printf("%s\n", device.c_str());
    g_copy_gbps = bench::copy_gbps(size_t(1) << 30);
    double gemm_fp32 = bench::gemm_tflops(8192, 8192, 8192, false);
    g_gemm_tf32 = bench::gemm_tflops(8192, 8192, 8192, true);
    std::printf("baselines: copy %.0f GB/s (read+write), cuBLAS SGEMM 8192^3 %.1f TFLOP/s strict FP32, %.1f TF32\n",
                g_copy_gbps, gemm_fp32, g_gemm_tf32);
    g_rows.push_back({"cuBLAS SGEMM strict FP32", 0, 0, gemm_fp32, gemm_fp32 / g_gemm_tf32});

    std::printf("\n-- memory-bound ops, float32\n");
    bench_pointwise(2, 64, quick ? 256 : 512, quick ? 256 : 512);

    std::printf("\n-- cuDNN convolutions, batch 2, 1024x1024 input, TF32 allowed\n");
    cuda::set_math_mode(cuda::MathMode::kAllowTF32);
    const ConvShape shapes[] = {
        {"resnet34", "conv1 7x7/2 3->64", 3, 64, 1024, 7, 2, 1},
        {"resnet34", "layer1 3x3 64->64 @256", 64, 64, 256, 3, 1, 1},
        {"resnet34", "layer2 3x3/2 64->128", 64, 128, 256, 3, 2, 1},
        {"resnet34", "layer2 1x1/2 down 64->128", 64, 128, 256, 1, 2, 1},
        {"resnet34", "layer2 3x3 128->128 @128", 128, 128, 128, 3, 1, 1},
        {"resnet34", "layer3 3x3 256->256 @64", 256, 256, 64, 3, 1, 1},
        {"resnet34", "layer4 3x3 512->512 @32", 512, 512, 32, 3, 1, 1},
        {"resnet50", "layer1 1x1 64->64 @256", 64, 64, 256, 1, 1, 1},
        {"resnet50", "layer1 1x1 64->256 @256", 64, 256, 256, 1, 1, 1},
        {"resnet50", "layer2 1x1 256->128 @256", 256, 128, 256, 1, 1, 1},
        {"resnet50", "layer2 3x3/2 128->128", 128, 128, 256, 3, 2, 1},
        {"resnet50", "layer3 1x1 512->256 @128", 512, 256, 128, 1, 1, 1},
        {"resnet50", "layer3 3x3 256->256 @64", 256, 256, 64, 3, 1, 1},
        {"resnet50", "layer4 1x1 512->2048 @32", 512, 2048, 32, 1, 1, 1},
        {"seresnext50", "layer1 3x3 g32 128->128 @256", 128, 128, 256, 3, 1, 32},
        {"seresnext50", "layer3 3x3 g32 512->512 @64", 512, 512, 64, 3, 1, 32},
    };
    for (const ConvShape& cs : shapes) {
      if (quick && cs.hw > 256) continue;
      bench_conv(cs, 2);
    }
    cuda::MemoryStats ms = cuda::memory_stats(0);
    std::printf("\nallocator: peak %.1f MiB in use, %zu cudaMalloc calls, %zu of %zu requests from the cache\n",
                ms.peak_bytes_in_use / 1048576.0, ms.num_cuda_malloc, ms.num_cache_hits, ms.num_allocs);
    if (!json.empty()) write_json(json, device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_ops: %s\n", e.what());
    return 1;
  }
  return 0;
}
