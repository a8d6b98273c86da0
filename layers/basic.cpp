// ReLU, Sigmoid, MaxPool2d, Upsample (layers/basic.h): thin layers over the engine ops.
#include "layers/basic.h"

#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"

namespace pleura {

// Each forward makes its layer the current one, for out-of-memory messages (layers/module.h).
Tensor ReLU::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  return relu(x);
}
Tensor Sigmoid::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  return sigmoid(x);
}
Tensor MaxPool2d::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  return max_pool2d(x, p_);
}
Tensor Upsample::forward(const Tensor& x) {
  const LayerScope scope = in_layer();
  return upsample2x(x, mode_);
}

}  // namespace pleura
