// Winograd F(2x2, 3x3) convolution kernels (see conv2d_winograd.h; tests: tests/ops/test_conv2d_winograd.cpp).
//
// Each 2x2 block of outputs (a tile) of output channel o is A^T [ sum_i U_i (.) V_i ] A, where V_i = B^T d B is
// the transformed 4x4 input patch of input channel i under the tile and U_i = G g_oi G^T the transformed 3x3
// kernel (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). Gathered over all
// tiles and channels, the sum is 16 independent matrix products, one per point xi of the 4x4 transform:
// M_xi [Kout, tiles] = U_xi [Kout, Cin] . V_xi [Cin, tiles]. That is 16 * Kout * Cin multiply-adds per
// tile against im2col's 36 * Kout * Cin: 2.25 times fewer, for the price of the two transforms (additions
// only) and the kernel's transform (once per call).
//
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
// A^T = [1 1 1 0; 0 1 -1 -1]. The transforms use only additions and halvings, so the rounding stays close
// to im2col's (tests: within 2e-6 of the largest output in float32, 1e-12 in float64).
//
// Tiles are taken a band of tile rows at a time so that V and M stay a few MiB; the band depends only on
// the shapes, and cpu::gemm's results do not depend on the thread count, so neither do these.
#include "cpu/conv2d_winograd.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "cpu/blas.h"
#include "cpu/float_types.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace pleura::cpu {

namespace {

constexpr int64_t kPoints = 16;  // the 4x4 transform points xi

// Fewer channels than this on either side and the 16 thin products lose to one im2col product by far
// (the UNets' 3x3 convolutions all have 32 or more).
constexpr int64_t kMinChannels = 16;

// V and M of one band together: a few MiB (the products then read V and write M mostly from the last-level
// cache), but never fewer than this many tiles per band where the image has them (thin products are slow).
constexpr int64_t kBandBytes = int64_t{8} << 20;
constexpr int64_t kMinBandTiles = 512;

// One Winograd convolution: x [N, Cin, H, W] -> y [N, Kout, P, Q] with zero padding ph, pw.
struct Plan {
  int64_t N, Cin, H, W, Kout, P, Q, ph, pw;
  int64_t tiles_h, tiles_w;  // ceil(P / 2), ceil(Q / 2)
  int64_t band_rows;         // tile rows per band
};

template <class T>
Plan plan_of(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Kout, int64_t P, int64_t Q, int64_t ph,
             int64_t pw) {
  Plan pl{N, Cin, H, W, Kout, P, Q, ph, pw, (P + 1) / 2, (Q + 1) / 2, 1};
  const int64_t row_bytes = kPoints * (Cin + Kout) * pl.tiles_w * static_cast<int64_t>(sizeof(T));
  const int64_t budget_rows = std::max(kBandBytes / row_bytes, (kMinBandTiles + pl.tiles_w - 1) / pl.tiles_w);
  pl.band_rows = std::clamp<int64_t>(budget_rows, 1, pl.tiles_h);
  return pl;
}

// U [16][Kout][Cin] = G g G^T for each kernel g = kernel(o, i) (a pointer to 9 values read as
// kernel_at(ptr, r, s)), computed in double and rounded once.
template <class T, class KernelAt>
void transform_weights(int64_t Kout, int64_t Cin, const KernelAt& kernel_at, T* U) {
  parallel_for(Kout, grain_for_elements(Cin * kPoints), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      for (int64_t i = 0; i < Cin; ++i) {
        double gg[4][3];  // G g
        for (int s = 0; s < 3; ++s) {
          const double g0 = kernel_at(o, i, 0, s), g1 = kernel_at(o, i, 1, s), g2 = kernel_at(o, i, 2, s);
          gg[0][s] = g0, gg[1][s] = (g0 + g1 + g2) / 2, gg[2][s] = (g0 - g1 + g2) / 2, gg[3][s] = g2;
        }
        for (int a = 0; a < 4; ++a) {
          const double u[4] = {gg[a][0], (gg[a][0] + gg[a][1] + gg[a][2]) / 2, (gg[a][0] - gg[a][1] + gg[a][2]) / 2,
                               gg[a][2]};
          for (int b = 0; b < 4; ++b) U[((a * 4 + b) * Kout + o) * Cin + i] = static_cast<T>(u[b]);
        }
      }
    }
  });
}

// The 4x4 input patch of the tile whose top-left input pixel is (h0, w0), zero outside the image. rows[a]
// is input row h0 + a, or null where that row is padding.
template <class T>
void load_patch(const T* const rows[4], int64_t w0, int64_t W, T d[4][4]) {
  if (w0 >= 0 && w0 + 3 < W) {
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) d[a][b] = rows[a] ? rows[a][w0 + b] : T(0);
    return;
  }
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      const int64_t col = w0 + b;
      d[a][b] = rows[a] && col >= 0 && col < W ? rows[a][col] : T(0);
    }
}

// V [16][Cin][tiles] for the band of tile rows [r0, r1) of image x_n [Cin, H, W]: B^T d B per tile.
template <class T>
void transform_input(const T* x_n, const Plan& pl, int64_t r0, int64_t r1, T* V) {
  const int64_t tiles = (r1 - r0) * pl.tiles_w, point_stride = pl.Cin * tiles;
  parallel_for(pl.Cin, grain_for_elements(tiles * kPoints), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* plane = x_n + c * pl.H * pl.W;
      T* v = V + c * tiles;
      for (int64_t tr = r0; tr < r1; ++tr) {
        const T* rows[4];
        for (int a = 0; a < 4; ++a) {
          const int64_t h = 2 * tr - pl.ph + a;
          rows[a] = h >= 0 && h < pl.H ? plane + h * pl.W : nullptr;
        }
        for (int64_t tc = 0; tc < pl.tiles_w; ++tc) {
          T d[4][4];
          load_patch(rows, 2 * tc - pl.pw, pl.W, d);
          T t[4][4];  // B^T d
          for (int b = 0; b < 4; ++b) {
            t[0][b] = d[0][b] - d[2][b], t[1][b] = d[1][b] + d[2][b];
            t[2][b] = d[2][b] - d[1][b], t[3][b] = d[1][b] - d[3][b];
          }
          T* out = v + (tr - r0) * pl.tiles_w + tc;
          for (int a = 0; a < 4; ++a) {  // (B^T d) B, row a
            out[(a * 4 + 0) * point_stride] = t[a][0] - t[a][2];
            out[(a * 4 + 1) * point_stride] = t[a][1] + t[a][2];
            out[(a * 4 + 2) * point_stride] = t[a][2] - t[a][1];
            out[(a * 4 + 3) * point_stride] = t[a][1] - t[a][3];
          }
        }
      }
    }
  });
}

// y_n [Kout, P, Q] for the band's tiles from M [16][Kout][tiles]: A^T m A per tile, plus the bias.
template <class T>
void transform_output(const T* M, const T* bias, const Plan& pl, int64_t r0, int64_t r1, T* y_n) {
  const int64_t tiles = (r1 - r0) * pl.tiles_w, point_stride = pl.Kout * tiles;
  parallel_for(pl.Kout, grain_for_elements(tiles * kPoints), [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const T b = bias ? bias[k] : T(0);
      const T* m_k = M + k * tiles;
      T* y_k = y_n + k * pl.P * pl.Q;
      for (int64_t tr = r0; tr < r1; ++tr) {
        const int64_t p = 2 * tr;
        for (int64_t tc = 0; tc < pl.tiles_w; ++tc) {
          const T* m = m_k + (tr - r0) * pl.tiles_w + tc;
          T s[2][4];  // A^T m
          for (int j = 0; j < 4; ++j) {
            const T m0 = m[(0 + j) * point_stride], m1 = m[(4 + j) * point_stride];
            const T m2 = m[(8 + j) * point_stride], m3 = m[(12 + j) * point_stride];
            s[0][j] = m0 + m1 + m2, s[1][j] = m1 - m2 - m3;
          }
          const int64_t q = 2 * tc;
          for (int a = 0; a < 2 && p + a < pl.P; ++a) {
            T* row = y_k + (p + a) * pl.Q + q;
            row[0] = (s[a][0] + s[a][1] + s[a][2]) + b;
            if (q + 1 < pl.Q) row[1] = (s[a][1] - s[a][2] - s[a][3]) + b;
          }
        }
      }
    }
  });
}

// y = conv(x, U) + bias with the transformed kernel U [16][Kout][Cin] (bias may be null).
template <class T>
void run(const Plan& pl, const T* x, const T* U, const T* bias, T* y) {
  const int64_t band_tiles = pl.band_rows * pl.tiles_w;
  Tensor v_buffer = Tensor::empty({kPoints * pl.Cin * band_tiles}, DTypeOf<T>::value);
  Tensor m_buffer = Tensor::empty({kPoints * pl.Kout * band_tiles}, DTypeOf<T>::value);
  T* V = v_buffer.data<T>();
  T* M = m_buffer.data<T>();
  for (int64_t n = 0; n < pl.N; ++n) {
    const T* x_n = x + n * pl.Cin * pl.H * pl.W;
    T* y_n = y + n * pl.Kout * pl.P * pl.Q;
    for (int64_t r0 = 0; r0 < pl.tiles_h; r0 += pl.band_rows) {
      const int64_t r1 = std::min(pl.tiles_h, r0 + pl.band_rows), tiles = (r1 - r0) * pl.tiles_w;
      transform_input(x_n, pl, r0, r1, V);
      for (int64_t xi = 0; xi < kPoints; ++xi)
        gemm<T>(Trans::kNo, Trans::kNo, pl.Kout, tiles, pl.Cin, T(1), U + xi * pl.Kout * pl.Cin, pl.Cin,
                V + xi * pl.Cin * tiles, tiles, T(0), M + xi * pl.Kout * tiles, tiles);
      transform_output(M, bias, pl, r0, r1, y_n);
    }
  }
}

}  // namespace

bool winograd_kernel_fits(const Tensor& w, const Conv2dParams& p) {
  return w.ndim() == 4 && w.size(2) == 3 && w.size(3) == 3 && p.stride_h == 1 && p.stride_w == 1 &&
         p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1;
}

void require_winograd_kernel_fits(const Tensor& w, const Conv2dParams& p, const char* op) {
  PLEURA_CHECK(winograd_kernel_fits(w, p), "[", op,
               "] expected a 3x3 kernel, stride 1, dilation 1 and one group; got weight ", describe(w), ", stride ",
               p.stride_h, "x", p.stride_w, ", dilation ", p.dilation_h, "x", p.dilation_w, ", groups ", p.groups);
}

bool winograd_applies(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  return conv_algorithm() == ConvAlgorithm::kWinograd && x.dtype() == DType::kFloat32 && winograd_kernel_fits(w, p) &&
         w.size(0) >= kMinChannels && w.size(1) >= kMinChannels;
}

bool winograd_applies_to_input_grad(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  return winograd_applies(x, w, p) && p.pad_h <= 2 && p.pad_w <= 2;
}

void conv2d_winograd_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y) {
  require_winograd_kernel_fits(w, p, "conv2d winograd");
  with_float_type(x.dtype(), "conv2d winograd", [&](auto tag) {
    using T = decltype(tag);
    const int64_t Cin = x.size(1), Kout = w.size(0);
    const Plan pl = plan_of<T>(x.size(0), Cin, x.size(2), x.size(3), Kout, y.size(2), y.size(3), p.pad_h, p.pad_w);
    Tensor u = Tensor::empty({kPoints * Kout * Cin}, x.dtype());
    const T* pw = w.data<T>();
    transform_weights<T>(Kout, Cin, [&](int64_t o, int64_t i, int r, int s) { return pw[(o * Cin + i) * 9 + r * 3 + s]; },
                         u.data<T>());
    run<T>(pl, x.data<T>(), u.data<T>(), bias.defined() ? bias.data<T>() : nullptr, y.data<T>());
  });
}

void conv2d_winograd_input_grad(const Tensor& w, const Tensor& grad_y, const Conv2dParams& p, Tensor& grad_x) {
  require_winograd_kernel_fits(w, p, "conv2d winograd input gradient");
  PLEURA_CHECK(p.pad_h <= 2 && p.pad_w <= 2, "[conv2d winograd input gradient] padding ", p.pad_h, "x", p.pad_w,
               " is above 2: the gradient would need negative padding");
  with_float_type(grad_y.dtype(), "conv2d winograd input gradient", [&](auto tag) {
    using T = decltype(tag);
    // grad_x [N, C, H, W] is grad_y [N, K, P, Q] convolved with w' [C, K, 3, 3], w'[c][k][r][s] =
    // w[k][c][2 - r][2 - s], padding 2 - pad (H = P + 2 (2 - pad) - 2).
    const int64_t K = w.size(0), C = w.size(1);
    const Plan pl = plan_of<T>(grad_y.size(0), K, grad_y.size(2), grad_y.size(3), C, grad_x.size(2), grad_x.size(3),
                               2 - p.pad_h, 2 - p.pad_w);
    Tensor u = Tensor::empty({kPoints * C * K}, grad_y.dtype());
    const T* pw = w.data<T>();
    transform_weights<T>(
        C, K, [&](int64_t c, int64_t k, int r, int s) { return pw[(k * C + c) * 9 + (2 - r) * 3 + (2 - s)]; },
        u.data<T>());
    run<T>(pl, grad_y.data<T>(), u.data<T>(), nullptr, grad_x.data<T>());
  });
}

}  // namespace pleura::cpu
