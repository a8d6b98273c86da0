// CPU kernel of squared_norm (engine/ops/squared_norm.h); twin: cuda/squared_norm.cu. The tensors are
// cut into chunks of kChunk elements (a chunk never spans two tensors, as in the CUDA kernel); threads
// take whole chunks, each chunk's sum of squares is a float64 partial (in cpu/reduce.h's lanes), and the
// partials are added in order: the same bits for any thread count.
#include <algorithm>
#include <vector>

#include "cpu/float_types.h"
#include "cpu/reduce.h"
#include "engine/ops/squared_norm.h"
#include "engine/parallel.h"

namespace pleura::cpu {

namespace {

constexpr int64_t kChunk = 8192;

struct Chunk {
  size_t tensor;
  int64_t begin, end;
};

std::vector<Chunk> chunks_of(const std::vector<Tensor>& tensors) {
  std::vector<Chunk> chunks;
  for (size_t t = 0; t < tensors.size(); ++t)
    for (int64_t b = 0; b < tensors[t].numel(); b += kChunk)
      chunks.push_back({t, b, std::min(tensors[t].numel(), b + kChunk)});
  return chunks;
}

}  // namespace

void squared_norm(const std::vector<Tensor>& tensors, Tensor& out) {
  const std::vector<Chunk> chunks = chunks_of(tensors);
  std::vector<double> partial(chunks.size(), 0.0);
  with_float_type(tensors.front().dtype(), "squared_norm", [&](auto tag) {
    using T = decltype(tag);
    parallel_for(static_cast<int64_t>(chunks.size()), 4, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const Chunk& k = chunks[static_cast<size_t>(c)];
        const T* x = tensors[k.tensor].data<T>();
        const T* v = x + k.begin;
        partial[static_cast<size_t>(c)] = lane_sum(k.end - k.begin, [v](int64_t i) {
          return static_cast<double>(v[i]) * static_cast<double>(v[i]);
        });
      }
    });
  });
  double total = 0.0;
  for (double p : partial) total += p;
  out.data<double>()[0] = total;
}

}  // namespace pleura::cpu
