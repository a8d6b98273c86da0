// ReLU, Sigmoid, MaxPool2d, Upsample (layers/basic.h): thin layers over the engine ops.
#include "layers/basic.h"

#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"

namespace pleura {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, p_); }
Tensor Upsample::forward(const Tensor& x) { return upsample2x(x, mode_); }

}  // namespace pleura
