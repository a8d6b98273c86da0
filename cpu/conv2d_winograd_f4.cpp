// Winograd F(4x4, 3x3) forward kernels for float32 inference (see conv2d_winograd_f4.h; tests:
// tests/ops/test_conv2d_winograd_f4.cpp; timing: bench/bench_conv_layers.cpp).
//
// Each 4x4 block of outputs (a tile) of output channel k is A^T [ sum_c U_kc (.) V_c ] A, where V_c = B^T d_c B
// is the transformed 6x6 input patch of channel c under the tile and U_kc = G g_kc G^T the transformed kernel
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016, with the points 0, +-1, +-2
// and infinity). Gathered over tiles and channels the sum is 36 matrix products, one per transform point xi:
// M_xi [K, tiles] = U_xi [K, C] . V_xi [C, tiles].
//
// The work is cut into blocks of 16 tiles (in row-major tile order across the image), each one thread's:
// its 6x6 patches are gathered, 8 tiles to a vector's lanes, and transformed into V [36][C][16] (for 128
// channels 288 KiB, in the core's L2); the 36 products read V_xi [C][16] (8 KiB, in L1) against U_xi, 6
// output channels by 16 tiles in 12 registers; the output transform reads M [36][K][16] back and writes the
// 4x4 tiles with bias, residual and ReLU. On AVX-512 CPUs the products take 16 output channels by 16 tiles
// in 16 registers, and a block whose 16 tiles lie along one tile row is transformed in and out 16 tiles at a
// time, in the same lane order (the same bits; conv2d_winograd_f4.h). The sum over c runs in one fixed order for every output, so the
// results do not depend on the thread count.
//
// B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
// G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
// A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
#include "cpu/conv2d_winograd_f4.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>

#include "cpu/conv2d_winograd.h"
#include "engine/error.h"
#include "engine/parallel.h"

#define PLEURA_AVX2 __attribute__((target("avx2,fma")))
#define PLEURA_AVX512 __attribute__((target("avx512f,fma")))

namespace pleura::cpu {

namespace {

constexpr int kLanes = 8;                         // floats in an AVX2 register: tiles per vector
constexpr int kTileVectors = 2;                   // vectors of tiles per block
constexpr int kBlockTiles = kLanes * kTileVectors;  // tiles per block
constexpr int kKrAvx2 = 6;     // output channels per product kernel call: 6 x 16 tiles in 12 AVX2 registers,
constexpr int kKrAvx512 = 16;  // 16 x 16 tiles in 16 AVX-512 registers
constexpr int kPoints = 36;                       // the 6x6 transform points xi

// Fewer channels than this on either side and the transforms cost more than the products save (the
// UNets' 3x3 convolutions all have 32 or more).
constexpr int64_t kMinChannels = 16;
// Fewer 4x4 output tiles than this (in the whole batch) and the kernel's transform and the thin products cost
// more than oneDNN's direct convolution. Measured with bench_conv_layers --forward-only on the UNets' layers,
// batch 1, 2 threads (time over oneDNN's): on a Zen 3 (AVX2), 8x8 outputs (4 tiles) 2.4-2.6x, 16x16 (16 tiles)
// 0.96-0.99x, 32x32 (64 tiles) 0.49-0.77x, 64x64 and more 0.34-0.69x; on a Zen 5 (AVX-512, where oneDNN's
// kernels are twice as wide), with the AVX-512 kernels, 32x32 1.37-1.48x, 64x64 0.60-0.81x.
int64_t min_tiles() { return winograd_f4_avx512_supported() ? 256 : 64; }

// Blocks per superblock: as many as keep V_xi's slices of all of them within this many bytes (a share of a
// core's L2), at most kMaxSuperblock (V and M of a superblock then stay a few MiB).
constexpr int64_t kSuperblockSliceBytes = int64_t{128} << 10;
constexpr int64_t kMaxSuperblock = 8;

// This thread's buffer number `slot` (0: V, 1: M), of at least `floats` floats, kept between calls: a
// fresh multi-megabyte allocation per call would be page-faulted in every time. It only grows.
float* thread_buffer(int slot, int64_t floats) {
  thread_local std::unique_ptr<float[]> buffers[2];
  thread_local int64_t capacity[2] = {0, 0};
  if (floats > capacity[slot]) {
    buffers[slot].reset();  // free first: never hold the old and the new buffer together
    buffers[slot].reset(new float[floats]);
    capacity[slot] = floats;
  }
  return buffers[slot].get();
}

struct Geometry {
  int64_t N, C, H, W, K, P, Q, ph, pw;
  int64_t tiles_w, tiles;  // per image
  int64_t blocks;          // per image
  int64_t superblock;      // blocks per superblock: the blocks that share each pass over U
  int64_t superblocks;     // per image
  bool avx512;             // the product kernel: AVX-512's (16 output channels) or AVX2's (6)
  int64_t kr;              // its output channels per call
  int64_t k_blocks;        // ceil(K / kr)
  int64_t k_padded;        // k_blocks * kr
};

Geometry geometry_of(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  Geometry g{};
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.K = w.size(0), g.P = y.size(2), g.Q = y.size(3), g.ph = p.pad_h, g.pw = p.pad_w;
  g.tiles_w = (g.Q + 3) / 4;
  g.tiles = ((g.P + 3) / 4) * g.tiles_w;
  g.blocks = (g.tiles + kBlockTiles - 1) / kBlockTiles;
  g.avx512 = winograd_f4_kernel() == WinogradF4Kernel::kAvx512;
  g.kr = g.avx512 ? kKrAvx512 : kKrAvx2;
  g.k_blocks = (g.K + g.kr - 1) / g.kr;
  g.k_padded = g.k_blocks * g.kr;
  // As many blocks as keep one point's slice of V for all of them, C x 16 tiles each, in a core's L2.
  g.superblock = std::clamp<int64_t>(kSuperblockSliceBytes / (g.C * kBlockTiles * int64_t{sizeof(float)}), 1,
                                     kMaxSuperblock);
  g.superblock = std::min(g.superblock, g.blocks);
  g.superblocks = (g.blocks + g.superblock - 1) / g.superblock;
  return g;
}

// out[i] = (G v)[i] for the 3 vectors v: the kernel transform along one axis, 8 kernels at a time.
PLEURA_AVX2 inline void kernel_transform_3(__m256 v0, __m256 v1, __m256 v2, __m256 out[6]) {
  const __m256 sixth = _mm256_set1_ps(1.0f / 6);
  const __m256 even = _mm256_fmadd_ps(v0, _mm256_set1_ps(1.0f / 24), _mm256_mul_ps(v2, sixth));  // v0/24 + v2/6
  const __m256 odd = _mm256_mul_ps(v1, _mm256_set1_ps(1.0f / 12));
  out[0] = _mm256_mul_ps(v0, _mm256_set1_ps(0.25f));
  out[1] = _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(v0, v1), v2), _mm256_set1_ps(-1.0f / 6));
  out[2] = _mm256_mul_ps(_mm256_add_ps(_mm256_sub_ps(v0, v1), v2), _mm256_set1_ps(-1.0f / 6));
  out[3] = _mm256_add_ps(even, odd);
  out[4] = _mm256_sub_ps(even, odd);
  out[5] = v2;
}

// U [36][k_blocks][C][kr] = G g G^T for each kernel g [3][3] of w [K][C][3][3], in float, zero for the output
// channels past K, for the product blocks [kb0, kb1). Each point's slice of a block (its kr output channels) is
// packed channel-major, U (c, r) at c * kr + r, so that the product kernel reads it in one run; here the lanes
// are 8 of those kr output channels of one input channel (their kernels gathered), each point's 8 values one
// store.
PLEURA_AVX2 void transform_weights_range(const float* w, const Geometry& g, int64_t kb0, int64_t kb1, float* U) {
  const int64_t point_stride = g.k_padded * g.C;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i offsets = _mm256_mullo_epi32(lane, _mm256_set1_epi32(static_cast<int32_t>(9 * g.C)));
  for (int64_t kb = kb0; kb < kb1; ++kb)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t r0 = 0; r0 < g.kr; r0 += kLanes) {
        const int64_t k = kb * g.kr + r0;
        const int lanes = static_cast<int>(std::min<int64_t>(kLanes, g.kr - r0));
        const int real = static_cast<int>(std::clamp<int64_t>(g.K - k, 0, lanes));  // lanes below K
        const __m256i store_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), lane);
        const __m256 real_mask = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(real), lane));
        __m256 tap[9];  // tap[r * 3 + s]: that tap of the 8 kernels (zero past K)
        for (int i = 0; i < 9; ++i)
          tap[i] = real == 0 ? _mm256_setzero_ps()
                             : _mm256_mask_i32gather_ps(_mm256_setzero_ps(), w + (k * g.C + c) * 9 + i, offsets,
                                                        real_mask, 4);
        __m256 columns[3][6];  // G g, column s
        for (int s = 0; s < 3; ++s) kernel_transform_3(tap[s], tap[3 + s], tap[6 + s], columns[s]);
        float* u = U + (kb * g.C + c) * g.kr + r0;
        for (int a = 0; a < 6; ++a) {
          __m256 row[6];  // row a of (G g) G^T
          kernel_transform_3(columns[0][a], columns[1][a], columns[2][a], row);
          for (int b = 0; b < 6; ++b) _mm256_maskstore_ps(u + (a * 6 + b) * point_stride, store_mask, row[b]);
        }
      }
}

void transform_weights(const float* w, const Geometry& g, float* U) {
  parallel_for(g.k_blocks, grain_for_elements(g.C * g.kr * kPoints),
               [&](int64_t kb0, int64_t kb1) { transform_weights_range(w, g, kb0, kb1, U); });
}

// Lane j of each vector of a block holds tile kLaneTile[j] of its 8: the order in which two 4x4 transposes
// within 128-bit halves (transpose_halves) take 8 tiles of one tile row apart into their columns and put
// them back together, so that the fast paths below need no other shuffle.
constexpr int kLaneTile[kLanes] = {0, 2, 4, 6, 1, 3, 5, 7};

// Where the tiles of block `block` lie, per lane (v * 8 + j: vector v, lane j): the top-left input pixel
// of each (padding included), its first output pixel, whether the tile exists (the last block of an image
// may run past its last tile) and whether its 6x6 patch lies wholly inside the image; and per vector,
// whether its 8 tiles are one run along a tile row (then the fast paths may take them).
struct BlockTiles {
  int64_t h0[kBlockTiles], w0[kBlockTiles];
  int64_t out_row[kBlockTiles], out_col[kBlockTiles];
  bool exists[kBlockTiles], interior[kBlockTiles];
  bool row_run[kTileVectors];
};

BlockTiles tiles_of_block(const Geometry& g, int64_t block) {
  BlockTiles bt{};
  for (int v = 0; v < kTileVectors; ++v) {
    const int64_t first = block * kBlockTiles + v * kLanes;
    bt.row_run[v] = first + kLanes <= g.tiles && first % g.tiles_w + kLanes <= g.tiles_w;
    for (int j = 0; j < kLanes; ++j) {
      const int lane = v * kLanes + j;
      const int64_t t = first + kLaneTile[j];
      bt.exists[lane] = t < g.tiles;
      bt.out_row[lane] = bt.exists[lane] ? 4 * (t / g.tiles_w) : 0;
      bt.out_col[lane] = bt.exists[lane] ? 4 * (t % g.tiles_w) : 0;
      bt.h0[lane] = bt.out_row[lane] - g.ph;
      bt.w0[lane] = bt.out_col[lane] - g.pw;
      bt.interior[lane] = bt.exists[lane] && bt.h0[lane] >= 0 && bt.h0[lane] + 6 <= g.H && bt.w0[lane] >= 0 &&
                          bt.w0[lane] + 6 <= g.W;
    }
  }
  return bt;
}

// The 4x4 transposes of the 128-bit halves of a, b, c, d: half h of out[i] = element i of the halves h of
// a, b, c, d. Taking 8 tiles of one row apart: with a..d the 32 consecutive values of tiles 0-7 (4 each),
// out[s] holds column s of tiles kLaneTile[0..7]; putting them back together is the same call.
PLEURA_AVX2 inline void transpose_halves(__m256 a, __m256 b, __m256 c, __m256 d, __m256 out[4]) {
  const __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
  const __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
  out[0] = _mm256_shuffle_ps(t0, t2, 0x44), out[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  out[2] = _mm256_shuffle_ps(t1, t3, 0x44), out[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

// d [36][8]: the 6x6 patches of the 8 tiles of vector v of the block, one tile per lane, zero outside the
// image and for tiles that do not exist (the general path: any tiles, any edge).
void gather_patches(const float* plane, const Geometry& g, const BlockTiles& bt, int v, float d[kPoints][kLanes]) {
  for (int j = 0; j < kLanes; ++j) {
    const int lane = v * kLanes + j;
    if (bt.interior[lane]) {
      const float* src = plane + bt.h0[lane] * g.W + bt.w0[lane];
      for (int r = 0; r < 6; ++r)
        for (int s = 0; s < 6; ++s) d[r * 6 + s][j] = src[r * g.W + s];
      continue;
    }
    for (int r = 0; r < 6; ++r) {
      const int64_t h = bt.h0[lane] + r;
      const bool row_in = bt.exists[lane] && h >= 0 && h < g.H;
      for (int s = 0; s < 6; ++s) {
        const int64_t col = bt.w0[lane] + s;
        d[r * 6 + s][j] = row_in && col >= 0 && col < g.W ? plane[h * g.W + col] : 0.0f;
      }
    }
  }
}

// out[i * os] = (B^T in)[i] for the six vectors in[i * is]: the input transform along one axis.
PLEURA_AVX2 inline void input_transform_6(const __m256* in, int is, __m256* out, int os) {
  const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
  const __m256 d0 = in[0], d1 = in[is], d2 = in[2 * is], d3 = in[3 * is], d4 = in[4 * is], d5 = in[5 * is];
  out[0] = _mm256_fmadd_ps(four, d0, _mm256_fnmadd_ps(five, d2, d4));         // 4 d0 - 5 d2 + d4
  const __m256 a = _mm256_fnmadd_ps(four, d2, d4), b = _mm256_fnmadd_ps(four, d1, d3);  // d4 - 4 d2, d3 - 4 d1
  out[os] = _mm256_add_ps(a, b);                                                // -4 d1 - 4 d2 + d3 + d4
  out[2 * os] = _mm256_sub_ps(a, b);                                            // 4 d1 - 4 d2 - d3 + d4
  const __m256 c = _mm256_sub_ps(d4, d2), e = _mm256_mul_ps(two, _mm256_sub_ps(d3, d1));
  out[3 * os] = _mm256_add_ps(c, e);                                            // -2 d1 - d2 + 2 d3 + d4
  out[4 * os] = _mm256_sub_ps(c, e);                                            // 2 d1 - d2 - 2 d3 + d4
  out[5 * os] = _mm256_fmadd_ps(four, d1, _mm256_fnmadd_ps(five, d3, d5));   // 4 d1 - 5 d3 + d5
}

// out [36] = B^T d B for the 8 tiles of vector v, by the general path: gathered, then transformed.
PLEURA_AVX2 inline void transform_gathered(const float* plane, const Geometry& g, const BlockTiles& bt, int v,
                                           __m256 out[kPoints]) {
  alignas(32) float d[kPoints][kLanes];
  gather_patches(plane, g, bt, v, d);
  __m256 in[kPoints], t[kPoints];
  for (int i = 0; i < kPoints; ++i) in[i] = _mm256_load_ps(d[i]);
  for (int s = 0; s < 6; ++s) input_transform_6(in + s, 6, t + s, 6);        // B^T d, column s
  for (int a = 0; a < 6; ++a) input_transform_6(t + a * 6, 1, out + a * 6, 1);  // (B^T d) B, row a
}

// The same values for 8 tiles that are one run along a tile row whose 36 input columns lie inside the image
// (w0: the first one's): B^T along the rows on whole vectors of 8 columns at the offsets 0, 4, ..., 28, then
// the columns taken apart (transpose_halves) and B along them. The same operations on each value as
// transform_gathered's, so the same bits.
PLEURA_AVX2 inline void transform_row_run(const float* plane, const Geometry& g, int64_t h0, int64_t w0,
                                          __m256 out[kPoints]) {
  __m256 t[6][8];  // t[a][o]: row a of B^T d at the columns w0 + 4 o .. + 7
  for (int o = 0; o < 8; ++o) {
    __m256 in[6], col[6];
    for (int r = 0; r < 6; ++r) {
      const int64_t h = h0 + r;
      in[r] = h >= 0 && h < g.H ? _mm256_loadu_ps(plane + h * g.W + w0 + 4 * o) : _mm256_setzero_ps();
    }
    input_transform_6(in, 1, col, 1);
    for (int a = 0; a < 6; ++a) t[a][o] = col[a];
  }
  for (int a = 0; a < 6; ++a) {
    __m256 cols[8];  // column s of the 8 tiles, s < 6 used
    transpose_halves(t[a][0], t[a][2], t[a][4], t[a][6], cols);
    transpose_halves(t[a][1], t[a][3], t[a][5], t[a][7], cols + 4);
    input_transform_6(cols, 1, out + a * 6, 1);
  }
}

// input_transform_6 on 16 lanes: the same operations, so the same bits.
PLEURA_AVX512 inline void input_transform_6x16(const __m512* in, int is, __m512* out, int os) {
  const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
  const __m512 d0 = in[0], d1 = in[is], d2 = in[2 * is], d3 = in[3 * is], d4 = in[4 * is], d5 = in[5 * is];
  out[0] = _mm512_fmadd_ps(four, d0, _mm512_fnmadd_ps(five, d2, d4));
  const __m512 a = _mm512_fnmadd_ps(four, d2, d4), b = _mm512_fnmadd_ps(four, d1, d3);
  out[os] = _mm512_add_ps(a, b);
  out[2 * os] = _mm512_sub_ps(a, b);
  const __m512 c = _mm512_sub_ps(d4, d2), e = _mm512_mul_ps(two, _mm512_sub_ps(d3, d1));
  out[3 * os] = _mm512_add_ps(c, e);
  out[4 * os] = _mm512_sub_ps(c, e);
  out[5 * os] = _mm512_fmadd_ps(four, d1, _mm512_fnmadd_ps(five, d3, d5));
}

// The same values as transform_row_run's for a whole block whose 16 tiles are one run along a tile row (w0:
// the first one's first input column, padding included), in the block's lane order: B^T along the rows on
// vectors of 16 columns at the offsets 0, 16, 32, 48 and, for the patches' columns 4 and 5, at 2, 18, 34, 50
// (columns outside the image read as zero: masked loads); then column s of tiles 0-7 and of tiles 8-15 picked
// out of a pair of those vectors each (permutex2var) and blended into one vector, and B along them.
PLEURA_AVX512 inline void transform_block_run(const float* plane, const Geometry& g, int64_t h0, int64_t w0,
                                              __m512 out[kPoints]) {
  // Vector q's columns w0 + offset .. + 15: those inside the image (mask), read from `from` on.
  __mmask16 mask[8];
  int64_t from[8];
  bool whole = true;
  for (int q = 0; q < 8; ++q) {
    const int64_t first = w0 + (q < 4 ? 16 * q : 2 + 16 * (q - 4));
    const int64_t lo = std::clamp<int64_t>(-first, 0, 16), hi = std::clamp<int64_t>(g.W - first, 0, 16);
    mask[q] = hi > lo ? static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1)) : 0;
    from[q] = std::max<int64_t>(first, 0);
    whole = whole && mask[q] == 0xFFFF;
  }
  __m512 t[6][8];  // t[a][q]: row a of B^T d at vector q's columns
  for (int q = 0; q < 8; ++q) {
    __m512 in[6], col[6];
    for (int r = 0; r < 6; ++r) {
      const int64_t h = h0 + r;
      const float* row = plane + h * g.W + from[q];
      if (h < 0 || h >= g.H)
        in[r] = _mm512_setzero_ps();
      else if (whole)
        in[r] = _mm512_loadu_ps(row);
      else  // the image's columns into the mask's lanes, in order, the others zero
        in[r] = _mm512_maskz_expandloadu_ps(mask[q], row);
    }
    input_transform_6x16(in, 1, col, 1);
    for (int a = 0; a < 6; ++a) t[a][q] = col[a];
  }
  // pick[shift], lanes j and j + 8: column `shift` of tile kLaneTile[j] within a pair of vectors (32 columns).
  __m512i pick[4];
  for (int shift = 0; shift < 4; ++shift) {
    alignas(64) int32_t index[16];
    for (int j = 0; j < kLanes; ++j) index[j] = index[j + kLanes] = 4 * kLaneTile[j] + shift;
    pick[shift] = _mm512_load_si512(index);
  }
  for (int a = 0; a < 6; ++a) {
    __m512 cols[6];  // column s of the 16 tiles
    for (int s = 0; s < 6; ++s) {
      const __m512* src = s < 4 ? t[a] : t[a] + 4;
      const __m512i index = pick[s < 4 ? s : s - 2];
      const __m512 first = _mm512_permutex2var_ps(src[0], index, src[1]);
      const __m512 second = _mm512_permutex2var_ps(src[2], index, src[3]);
      cols[s] = _mm512_mask_blend_ps(0xFF00, first, second);  // lanes 0-7 of the first, 8-15 of the second
    }
    input_transform_6x16(cols, 1, out + a * 6, 1);
  }
}

// Which of a superblock's vectors (8 tiles) a transform takes by its row-run path (fast), and which blocks
// (16 tiles) by its 16-tile one (fast_block, AVX-512 only); the general paths take the rest.
struct BlockPaths {
  bool fast[kMaxSuperblock][kTileVectors];
  bool fast_block[kMaxSuperblock];
};

// The input transform's paths for the `count` blocks `bts`.
BlockPaths input_paths(const Geometry& g, const BlockTiles* bts, int64_t count) {
  BlockPaths paths{};
  for (int64_t b = 0; b < count; ++b) {
    const BlockTiles& bt = bts[b];
    for (int v = 0; v < kTileVectors; ++v) {
      const int64_t w0 = bt.w0[v * kLanes];  // lane 0 holds the run's first tile
      paths.fast[b][v] = bt.row_run[v] && w0 >= 0 && w0 + 36 <= g.W;
    }
    // lane 8 holds tile 8: the two runs are one when it follows tile 7 on the same row
    paths.fast_block[b] = g.avx512 && bt.row_run[0] && bt.row_run[1] && bt.h0[kLanes] == bt.h0[0] &&
                          bt.w0[kLanes] == bt.w0[0] + 32;
  }
  return paths;
}

// Vector v of block b of channel plane `plane` into V (dst: the block's channel row), by the row-run path or
// the general one.
PLEURA_AVX2 inline void transform_vector(const float* plane, const Geometry& g, const BlockTiles& bt, int v, bool fast,
                                         int64_t point_stride, float* dst) {
  __m256 out[kPoints];
  if (fast)
    transform_row_run(plane, g, bt.h0[v * kLanes], bt.w0[v * kLanes], out);
  else
    transform_gathered(plane, g, bt, v, out);
  for (int i = 0; i < kPoints; ++i) _mm256_storeu_ps(dst + v * kLanes + i * point_stride, out[i]);
}

// V [blocks][36][C][16] for the `count` blocks of tiles `bts` of image x_n [C, H, W], one channel at a time
// across all the blocks, so that each input row is read in one run from left to right (the prefetchers
// follow it) rather than a block's width at a time.
PLEURA_AVX2 __attribute__((noinline)) void transform_input(const float* x_n, const Geometry& g, const BlockTiles* bts,
                                                           int64_t count, float* V) {
  const int64_t point_stride = g.C * kBlockTiles, v_block = kPoints * point_stride;
  const BlockPaths paths = input_paths(g, bts, count);
  for (int64_t c = 0; c < g.C; ++c) {
    const float* plane = x_n + c * g.H * g.W;
    for (int64_t b = 0; b < count; ++b)
      for (int v = 0; v < kTileVectors; ++v)
        transform_vector(plane, g, bts[b], v, paths.fast[b][v], point_stride, V + b * v_block + c * kBlockTiles);
  }
}

// The same with the 16-tile path where a block takes it (the same bits).
PLEURA_AVX512 __attribute__((noinline)) void transform_input_avx512(const float* x_n, const Geometry& g,
                                                                    const BlockTiles* bts, int64_t count, float* V) {
  const int64_t point_stride = g.C * kBlockTiles, v_block = kPoints * point_stride;
  const BlockPaths paths = input_paths(g, bts, count);
  for (int64_t c = 0; c < g.C; ++c) {
    const float* plane = x_n + c * g.H * g.W;
    for (int64_t b = 0; b < count; ++b) {
      float* dst = V + b * v_block + c * kBlockTiles;
      if (!paths.fast_block[b]) {
        for (int v = 0; v < kTileVectors; ++v) transform_vector(plane, g, bts[b], v, paths.fast[b][v], point_stride, dst);
        continue;
      }
      __m512 out[kPoints];
      transform_block_run(plane, g, bts[b].h0[0], bts[b].w0[0], out);
      for (int i = 0; i < kPoints; ++i) _mm512_storeu_ps(dst + i * point_stride, out[i]);
    }
  }
}

// M [6][16] (row stride 16) = U_part [6][C] . V_part [C][16], U_part packed [C][6]: the AVX2 product kernel,
// 6 output channels by 16 tiles in 12 accumulators, the sum over c in order.
PLEURA_AVX2 __attribute__((noinline)) void product_6x16(const float* U, const float* V, int64_t C, float* M) {
  const float *u0 = U, *u1 = U + 1, *u2 = U + 2, *u3 = U + 3, *u4 = U + 4, *u5 = U + 5;
  // Twelve named accumulators: as an array, GCC kept a copy of each in memory, stored on every iteration.
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
  __m256 a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
  for (int64_t c = 0; c < C; ++c) {
    const __m256 v0 = _mm256_loadu_ps(V + c * kBlockTiles), v1 = _mm256_loadu_ps(V + c * kBlockTiles + kLanes);
    __m256 b = _mm256_broadcast_ss(u0 + c * kKrAvx2);
    a00 = _mm256_fmadd_ps(b, v0, a00), a01 = _mm256_fmadd_ps(b, v1, a01);
    b = _mm256_broadcast_ss(u1 + c * kKrAvx2);
    a10 = _mm256_fmadd_ps(b, v0, a10), a11 = _mm256_fmadd_ps(b, v1, a11);
    b = _mm256_broadcast_ss(u2 + c * kKrAvx2);
    a20 = _mm256_fmadd_ps(b, v0, a20), a21 = _mm256_fmadd_ps(b, v1, a21);
    b = _mm256_broadcast_ss(u3 + c * kKrAvx2);
    a30 = _mm256_fmadd_ps(b, v0, a30), a31 = _mm256_fmadd_ps(b, v1, a31);
    b = _mm256_broadcast_ss(u4 + c * kKrAvx2);
    a40 = _mm256_fmadd_ps(b, v0, a40), a41 = _mm256_fmadd_ps(b, v1, a41);
    b = _mm256_broadcast_ss(u5 + c * kKrAvx2);
    a50 = _mm256_fmadd_ps(b, v0, a50), a51 = _mm256_fmadd_ps(b, v1, a51);
  }
  const __m256 acc[kKrAvx2][kTileVectors] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
  for (int r = 0; r < kKrAvx2; ++r)
    for (int t = 0; t < kTileVectors; ++t) _mm256_storeu_ps(M + r * kBlockTiles + t * kLanes, acc[r][t]);
}

// M [16][16] = U_part [16][C] . V_part [C][16], U_part packed [C][16]: the AVX-512 product kernel, 16 output
// channels by 16 tiles (one register each), the sum over c in order, one FMA per term like product_6x16's: the
// same bits.
PLEURA_AVX512 __attribute__((noinline)) void product_16x16(const float* U, const float* V, int64_t C, float* M) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m512 a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
  for (int64_t c = 0; c < C; ++c) {
    const __m512 v = _mm512_loadu_ps(V + c * kBlockTiles);
    const float* u = U + c * kKrAvx512;
    a0 = _mm512_fmadd_ps(_mm512_set1_ps(u[0]), v, a0), a1 = _mm512_fmadd_ps(_mm512_set1_ps(u[1]), v, a1);
    a2 = _mm512_fmadd_ps(_mm512_set1_ps(u[2]), v, a2), a3 = _mm512_fmadd_ps(_mm512_set1_ps(u[3]), v, a3);
    a4 = _mm512_fmadd_ps(_mm512_set1_ps(u[4]), v, a4), a5 = _mm512_fmadd_ps(_mm512_set1_ps(u[5]), v, a5);
    a6 = _mm512_fmadd_ps(_mm512_set1_ps(u[6]), v, a6), a7 = _mm512_fmadd_ps(_mm512_set1_ps(u[7]), v, a7);
    a8 = _mm512_fmadd_ps(_mm512_set1_ps(u[8]), v, a8), a9 = _mm512_fmadd_ps(_mm512_set1_ps(u[9]), v, a9);
    a10 = _mm512_fmadd_ps(_mm512_set1_ps(u[10]), v, a10), a11 = _mm512_fmadd_ps(_mm512_set1_ps(u[11]), v, a11);
    a12 = _mm512_fmadd_ps(_mm512_set1_ps(u[12]), v, a12), a13 = _mm512_fmadd_ps(_mm512_set1_ps(u[13]), v, a13);
    a14 = _mm512_fmadd_ps(_mm512_set1_ps(u[14]), v, a14), a15 = _mm512_fmadd_ps(_mm512_set1_ps(u[15]), v, a15);
  }
  const __m512 acc[kKrAvx512] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
  for (int r = 0; r < kKrAvx512; ++r) _mm512_storeu_ps(M + r * kBlockTiles, acc[r]);
}

// Writes the 4x4 tiles of output channel k (y_k [P, Q]) of the 8 tiles of vector v of the block, one by one
// (the general path): out [16][8] holds them (bias added); residual_k is null or the residual's plane of
// channel k.
void scatter_tiles(const float out[16][kLanes], const Geometry& g, const BlockTiles& bt, int v,
                   const ConvEpilogue& epilogue, const float* residual_k, float* y_k) {
  for (int j = 0; j < kLanes; ++j) {
    const int lane = v * kLanes + j;
    if (!bt.exists[lane]) continue;
    const int64_t rows = std::min<int64_t>(4, g.P - bt.out_row[lane]);
    const int64_t cols = std::min<int64_t>(4, g.Q - bt.out_col[lane]);
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t offset = (bt.out_row[lane] + i) * g.Q + bt.out_col[lane];
      for (int64_t jj = 0; jj < cols; ++jj) {
        float value = out[i * 4 + jj][j];
        if (epilogue.relu) {  // the expressions of cpu/conv2d_relu.cpp's add_relu_range
          if (residual_k != nullptr) value = value + residual_k[offset + jj];
          value = value < 0.0f ? 0.0f : value;
        }
        y_k[offset + jj] = value;
      }
    }
  }
}

// The same for 8 tiles that are one run along a tile row with all 32 output columns inside y (row, col: the
// first one's output pixel): each output row put back together (transpose_halves) and written as 4
// vectors. max(0, v) is the ReLU's v < 0 ? 0 : v, NaN and -0 included.
PLEURA_AVX2 inline void store_row_run(const __m256 o[16], const Geometry& g, int64_t row, int64_t col,
                                      const ConvEpilogue& epilogue, const float* residual_k, float* y_k) {
  const __m256 zero = _mm256_setzero_ps();
  for (int i = 0; i < 4 && row + i < g.P; ++i) {
    __m256 values[4];
    transpose_halves(o[i * 4 + 0], o[i * 4 + 1], o[i * 4 + 2], o[i * 4 + 3], values);
    const int64_t offset = (row + i) * g.Q + col;
    for (int part = 0; part < 4; ++part) {
      __m256 value = values[part];
      if (epilogue.relu) {
        if (residual_k != nullptr) value = _mm256_add_ps(value, _mm256_loadu_ps(residual_k + offset + 8 * part));
        value = _mm256_max_ps(zero, value);
      }
      _mm256_storeu_ps(y_k + offset + 8 * part, value);
    }
  }
}

// out[i * os] = (A^T in)[i], i < 4, for the six vectors in[j * is]: the output transform along one axis.
PLEURA_AVX2 inline void output_transform_6(const __m256* in, int is, __m256* out, int os) {
  const __m256 m0 = in[0], m1 = in[is], m2 = in[2 * is], m3 = in[3 * is], m4 = in[4 * is], m5 = in[5 * is];
  const __m256 p = _mm256_add_ps(m1, m2), q = _mm256_sub_ps(m1, m2);
  const __m256 s = _mm256_add_ps(m3, m4), u = _mm256_sub_ps(m3, m4);
  out[0] = _mm256_add_ps(_mm256_add_ps(m0, p), s);                               // m0 + m1 + m2 + m3 + m4
  out[os] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), u, q);                         // m1 - m2 + 2 (m3 - m4)
  out[2 * os] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), s, p);                     // m1 + m2 + 4 (m3 + m4)
  out[3 * os] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), u, q), m5);  // m1 - m2 + 8 (m3 - m4) + m5
}

// Vector v (8 tiles) of block b's output channel k from M's block src (M [36][k_padded][16] of the block):
// transformed, bias added, written to y_k with the epilogue, by the row-run path (fast) or the general one.
PLEURA_AVX2 inline void output_vector(const float* src, int64_t point_stride, const float* bias, int64_t k,
                                      const Geometry& g, const BlockTiles& bt, int v, bool fast,
                                      const ConvEpilogue& epilogue, const float* residual_k, float* y_k) {
  __m256 m[kPoints], t[24], o[16];
  for (int i = 0; i < kPoints; ++i) m[i] = _mm256_loadu_ps(src + v * kLanes + i * point_stride);
  for (int j = 0; j < 6; ++j) output_transform_6(m + j, 6, t + j, 6);        // A^T m: t [4][6]
  for (int i = 0; i < 4; ++i) output_transform_6(t + i * 6, 1, o + i * 4, 1);  // (A^T m) A: o [4][4]
  if (bias != nullptr)
    for (int i = 0; i < 16; ++i) o[i] = _mm256_add_ps(o[i], _mm256_set1_ps(bias[k]));
  if (fast) {
    store_row_run(o, g, bt.out_row[v * kLanes], bt.out_col[v * kLanes], epilogue, residual_k, y_k);
    return;
  }
  alignas(32) float out[16][kLanes];
  for (int i = 0; i < 16; ++i) _mm256_store_ps(out[i], o[i]);
  scatter_tiles(out, g, bt, v, epilogue, residual_k, y_k);
}

// The output transform's paths for the `count` blocks `bts`: a row run's output columns inside y, and for
// the 16-tile path the two runs one.
BlockPaths output_paths(const Geometry& g, const BlockTiles* bts, int64_t count) {
  BlockPaths paths{};
  for (int64_t b = 0; b < count; ++b) {
    const BlockTiles& bt = bts[b];
    for (int v = 0; v < kTileVectors; ++v) paths.fast[b][v] = bt.row_run[v] && bt.out_col[v * kLanes] + 32 <= g.Q;
    paths.fast_block[b] = g.avx512 && paths.fast[b][0] && paths.fast[b][1] &&
                          bt.out_row[kLanes] == bt.out_row[0] && bt.out_col[kLanes] == bt.out_col[0] + 32;
  }
  return paths;
}

// y_n's tiles of the `count` blocks `bts`, output channels [k0, k1), from M [blocks][36][k_padded][16], one
// output channel at a time across all the blocks (each output row written in one run).
PLEURA_AVX2 __attribute__((noinline)) void transform_output(const float* M, const float* bias, const Geometry& g,
                                                            const BlockTiles* bts, int64_t count, int64_t k0,
                                                            int64_t k1, const ConvEpilogue& epilogue,
                                                            const float* residual_n, float* y_n) {
  const int64_t point_stride = g.k_padded * kBlockTiles, m_block = kPoints * point_stride, plane = g.P * g.Q;
  const BlockPaths paths = output_paths(g, bts, count);
  for (int64_t k = k0; k < k1; ++k) {
    const float* residual_k = residual_n != nullptr ? residual_n + k * plane : nullptr;
    for (int64_t b = 0; b < count; ++b)
      for (int v = 0; v < kTileVectors; ++v)
        output_vector(M + b * m_block + k * kBlockTiles, point_stride, bias, k, g, bts[b], v, paths.fast[b][v],
                      epilogue, residual_k, y_n + k * plane);
  }
}

// output_transform_6 on 16 lanes: the same operations, so the same bits.
PLEURA_AVX512 inline void output_transform_6x16(const __m512* in, int is, __m512* out, int os) {
  const __m512 m0 = in[0], m1 = in[is], m2 = in[2 * is], m3 = in[3 * is], m4 = in[4 * is], m5 = in[5 * is];
  const __m512 p = _mm512_add_ps(m1, m2), q = _mm512_sub_ps(m1, m2);
  const __m512 s = _mm512_add_ps(m3, m4), u = _mm512_sub_ps(m3, m4);
  out[0] = _mm512_add_ps(_mm512_add_ps(m0, p), s);
  out[os] = _mm512_fmadd_ps(_mm512_set1_ps(2.0f), u, q);
  out[2 * os] = _mm512_fmadd_ps(_mm512_set1_ps(4.0f), s, p);
  out[3 * os] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.0f), u, q), m5);
}

// The 16 tiles of a block that is one run along a tile row with its 64 output columns inside y (row, col: the
// first one's first output pixel): o[i * 4 + j] holds column j of output row i of the tiles, in the block's lane
// order. Each output row's 64 values are put back in order in two rounds of permutex2var (columns 0-1 and 2-3
// of 8 tiles side by side, then 4 tiles' 16 values) and written as 4 vectors with the epilogue of store_row_run.
PLEURA_AVX512 inline void store_block_run(const __m512 o[16], const Geometry& g, int64_t row, int64_t col,
                                          const ConvEpilogue& epilogue, const float* residual_k, float* y_k) {
  int lane_of[kBlockTiles];  // the lane holding tile t of the block
  for (int j = 0; j < kLanes; ++j) lane_of[kLaneTile[j]] = j, lane_of[kLanes + kLaneTile[j]] = kLanes + j;
  alignas(64) int32_t pair_index[2][16], row_index[16];
  for (int half = 0; half < 2; ++half)  // element 2 t + c: column c of tile 8 half + t (of the pair's two)
    for (int e = 0; e < 16; ++e) pair_index[half][e] = (e % 2) * 16 + lane_of[8 * half + e / 2];
  for (int e = 0; e < 16; ++e) {  // element 4 t + j of a vector of 4 tiles, out of (columns 0-1, columns 2-3)
    const int t = e / 4, j = e % 4;
    row_index[e] = j < 2 ? 2 * t + j : 16 + 2 * t + j - 2;
  }
  const __m512i lo = _mm512_load_si512(pair_index[0]), hi = _mm512_load_si512(pair_index[1]);
  const __m512i first4 = _mm512_load_si512(row_index);
  const __m512i next4 = _mm512_add_epi32(first4, _mm512_set1_epi32(8));  // tiles 4-7 of the 8
  const __m512 zero = _mm512_setzero_ps();
  for (int i = 0; i < 4 && row + i < g.P; ++i) {
    const __m512 c01[2] = {_mm512_permutex2var_ps(o[i * 4], lo, o[i * 4 + 1]),
                           _mm512_permutex2var_ps(o[i * 4], hi, o[i * 4 + 1])};
    const __m512 c23[2] = {_mm512_permutex2var_ps(o[i * 4 + 2], lo, o[i * 4 + 3]),
                           _mm512_permutex2var_ps(o[i * 4 + 2], hi, o[i * 4 + 3])};
    const int64_t offset = (row + i) * g.Q + col;
    for (int part = 0; part < 4; ++part) {
      __m512 value = _mm512_permutex2var_ps(c01[part / 2], part % 2 == 0 ? first4 : next4, c23[part / 2]);
      if (epilogue.relu) {
        if (residual_k != nullptr) value = _mm512_add_ps(value, _mm512_loadu_ps(residual_k + offset + 16 * part));
        value = _mm512_maskz_max_ps(0xFFFF, zero, value);  // max_ps; this form spares GCC 12 a false warning
      }
      _mm512_storeu_ps(y_k + offset + 16 * part, value);
    }
  }
}

// transform_output with the 16-tile path where a block takes it (the same bits).
PLEURA_AVX512 __attribute__((noinline)) void transform_output_avx512(const float* M, const float* bias,
                                                                     const Geometry& g, const BlockTiles* bts,
                                                                     int64_t count, int64_t k0, int64_t k1,
                                                                     const ConvEpilogue& epilogue,
                                                                     const float* residual_n, float* y_n) {
  const int64_t point_stride = g.k_padded * kBlockTiles, m_block = kPoints * point_stride, plane = g.P * g.Q;
  const BlockPaths paths = output_paths(g, bts, count);
  for (int64_t k = k0; k < k1; ++k) {
    const float* residual_k = residual_n != nullptr ? residual_n + k * plane : nullptr;
    for (int64_t b = 0; b < count; ++b) {
      const float* src = M + b * m_block + k * kBlockTiles;
      if (!paths.fast_block[b]) {
        for (int v = 0; v < kTileVectors; ++v)
          output_vector(src, point_stride, bias, k, g, bts[b], v, paths.fast[b][v], epilogue, residual_k,
                        y_n + k * plane);
        continue;
      }
      __m512 m[kPoints], t[24], o[16];
      for (int i = 0; i < kPoints; ++i) m[i] = _mm512_loadu_ps(src + i * point_stride);
      for (int j = 0; j < 6; ++j) output_transform_6x16(m + j, 6, t + j, 6);
      for (int i = 0; i < 4; ++i) output_transform_6x16(t + i * 6, 1, o + i * 4, 1);
      if (bias != nullptr)
        for (int i = 0; i < 16; ++i) o[i] = _mm512_add_ps(o[i], _mm512_set1_ps(bias[k]));
      store_block_run(o, g, bts[b].out_row[0], bts[b].out_col[0], epilogue, residual_k, y_n + k * plane);
    }
  }
}

// The output channels of the product blocks [kb0, kb1) for the blocks [b0, b1) of image n (a superblock),
// with this thread's buffers V [blocks][36][C][16] and M [blocks][36][k_padded][16]: each slice of kr channels
// of U_xi (at most 32 KiB, in L1) serves every block of the superblock before the next is read, so U streams
// from memory once per superblock, not once per block.
PLEURA_AVX2 void run_unit(const float* x, const float* U, const float* bias, const Geometry& g, int64_t n, int64_t b0,
                          int64_t b1, int64_t kb0, int64_t kb1, const ConvEpilogue& epilogue, float* V, float* M,
                          float* y) {
  const int64_t count = b1 - b0, v_block = kPoints * g.C * kBlockTiles, m_block = kPoints * g.k_padded * kBlockTiles;
  BlockTiles bts[kMaxSuperblock] = {};
  for (int64_t b = 0; b < count; ++b) bts[b] = tiles_of_block(g, b0 + b);
  (g.avx512 ? transform_input_avx512 : transform_input)(x + n * g.C * g.H * g.W, g, bts, count, V);
  for (int xi = 0; xi < kPoints; ++xi) {
    const float* u_xi = U + xi * g.k_padded * g.C;
    for (int64_t kb = kb0; kb < kb1; ++kb)
      for (int64_t b = 0; b < count; ++b)
        (g.avx512 ? product_16x16 : product_6x16)(u_xi + kb * g.kr * g.C, V + b * v_block + xi * g.C * kBlockTiles,
                                                  g.C, M + b * m_block + (xi * g.k_padded + kb * g.kr) * kBlockTiles);
  }
  const int64_t image = g.K * g.P * g.Q;
  const float* residual_n = epilogue.residual != nullptr ? epilogue.residual + n * image : nullptr;
  (g.avx512 ? transform_output_avx512 : transform_output)(M, bias, g, bts, count, kb0 * g.kr,
                                                         std::min(g.K, kb1 * g.kr), epilogue, residual_n, y + n * image);
}

// Into how many ranges of product blocks each superblock's output channels are cut: 1 when there are enough
// superblocks for every thread, else enough ranges for two units per thread (small images with many channels;
// each range transforms the superblock's input again). Which thread computes an output never changes its
// value.
int64_t channel_splits(const Geometry& g) {
  const int64_t units = g.N * g.superblocks, wanted = 2 * static_cast<int64_t>(num_threads());
  if (units >= wanted) return 1;
  return std::min(g.k_blocks, (wanted + units - 1) / units);
}

}  // namespace

bool fast_inference_convolutions_available() { return winograd_f4_supported(); }

bool winograd_f4_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

bool winograd_f4_avx512_supported() {
  static const bool supported = winograd_f4_supported() && __builtin_cpu_supports("avx512f");
  return supported;
}

namespace {
std::atomic<WinogradF4Kernel>& kernel_slot() {
  static std::atomic<WinogradF4Kernel> slot{winograd_f4_avx512_supported() ? WinogradF4Kernel::kAvx512
                                                                           : WinogradF4Kernel::kAvx2};
  return slot;
}
}  // namespace

WinogradF4Kernel winograd_f4_kernel() { return kernel_slot().load(); }

void set_winograd_f4_kernel(WinogradF4Kernel kernel) {
  PLEURA_CHECK(kernel != WinogradF4Kernel::kAvx512 || winograd_f4_avx512_supported(),
               "[conv2d winograd F(4x4,3x3)] the AVX-512 product kernel was asked for, but this CPU lacks AVX-512F");
  kernel_slot().store(kernel);
}

const char* winograd_f4_kernel_name(WinogradF4Kernel kernel) {
  return kernel == WinogradF4Kernel::kAvx512 ? "avx512" : "avx2";
}

bool winograd_f4_applies(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if (!fast_inference_convolutions() || !winograd_f4_supported() || x.dtype() != DType::kFloat32 ||
      !winograd_kernel_fits(w, p) || x.ndim() != 4 || w.size(0) < kMinChannels || w.size(1) < kMinChannels)
    return false;
  const int64_t P = conv2d_output_size(x.size(2), 3, 1, p.pad_h, 1);
  const int64_t Q = conv2d_output_size(x.size(3), 3, 1, p.pad_w, 1);
  return x.size(0) * ((P + 3) / 4) * ((Q + 3) / 4) >= min_tiles();
}

void conv2d_winograd_f4_fwd(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y,
                            const ConvEpilogue& epilogue) {
  require_winograd_kernel_fits(w, p, "conv2d winograd F(4x4,3x3)");
  PLEURA_CHECK(x.dtype() == DType::kFloat32, "[conv2d winograd F(4x4,3x3)] expected float32 input, got ", describe(x));
  PLEURA_CHECK(winograd_f4_supported(), "[conv2d winograd F(4x4,3x3)] this CPU lacks AVX2 or FMA");
  const Geometry g = geometry_of(x, w, y, p);
  // U from the host allocator, not a buffer kept by the thread: the widest layer's (2048 to 256 channels,
  // 72 MiB) would stay resident through the whole inference.
  Tensor u_tensor = Tensor::empty({kPoints * g.k_padded * g.C});
  float* U = u_tensor.data<float>();
  transform_weights(w.data<float>(), g, U);
  const float* px = x.data<float>();
  const float* pb = bias.defined() ? bias.data<float>() : nullptr;
  float* py = y.data<float>();
  const int64_t splits = channel_splits(g), units = g.N * g.superblocks * splits;
  parallel_for(units, 1, [&](int64_t u0, int64_t u1) {
    float* V = thread_buffer(0, g.superblock * kPoints * g.C * kBlockTiles);
    float* M = thread_buffer(1, g.superblock * kPoints * g.k_padded * kBlockTiles);
    for (int64_t unit = u0; unit < u1; ++unit) {
      const int64_t split = unit % splits, superblock = unit / splits;
      const int64_t n = superblock / g.superblocks, b0 = (superblock % g.superblocks) * g.superblock;
      const int64_t kb0 = split * g.k_blocks / splits, kb1 = (split + 1) * g.k_blocks / splits;
      run_unit(px, U, pb, g, n, b0, std::min(g.blocks, b0 + g.superblock), kb0, kb1, epilogue, V, M, py);
    }
  });
}

}  // namespace pleura::cpu
