// Model::forward's input checks and init_weights (models/model.h); Model::input_multiple is in
// models/registry.cpp.
#include "models/model.h"

namespace pleura {

Tensor Model::forward(const Tensor& x) {
  PLEURA_CHECK(x.defined() && x.ndim() == 4 && x.size(1) == 3, "[", name(), "] expected an input [N, 3, H, W], got ",
               describe(x));
  int64_t m = input_multiple(), H = x.size(2), W = x.size(3);
  PLEURA_CHECK(x.size(0) >= 1 && H >= m && W >= m && H % m == 0 && W % m == 0, "[", name(), "] input size ", H, "x", W,
               " (H x W) is not supported: height and width must be positive multiples of ", m, " (input ",
               describe(x), ")");
  return forward_impl(x);
}

void init_weights(Model& model, uint64_t seed) {
  Rng rng(seed);
  init_module(model, [&](const std::string& name) { return model.conv_init(name); }, rng);
}

}  // namespace pleura
