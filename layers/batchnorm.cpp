// BatchNorm2d (layers/batchnorm.h).
#include "layers/batchnorm.h"

#include "engine/ops/batch_norm.h"

namespace pleura {

BatchNorm2d::BatchNorm2d(int64_t channels, double momentum, double eps)
    : channels_(channels), momentum_(momentum), eps_(eps) {
  PLEURA_CHECK(channels >= 1, "[BatchNorm2d] channels is ", channels, ", expected >= 1");
  weight_ = &register_parameter("weight", Tensor::ones({channels}));
  bias_ = &register_parameter("bias", Tensor::zeros({channels}));
  running_mean_ = &register_buffer("running_mean", Tensor::zeros({channels}));
  running_var_ = &register_buffer("running_var", Tensor::ones({channels}));
  num_batches_tracked_ =
      &register_buffer("num_batches_tracked", Tensor::zeros(Shape{}, DType::kInt64), BufferPlacement::kHost);
}

Tensor BatchNorm2d::forward(const Tensor& x) { return run(x, nullptr); }

Tensor BatchNorm2d::forward_relu(const Tensor& x, const Tensor& residual) { return run(x, &residual); }

// forward (relu_residual null) or forward_relu (*relu_residual: the residual, or undefined for none).
Tensor BatchNorm2d::run(const Tensor& x, const Tensor* relu_residual) {
  const LayerScope scope = in_layer();
  if (folded_) {
    PLEURA_CHECK(!is_training(), "[BatchNorm2d] ", name_for_messages(),
                 " is folded into the convolution before it, for inference only; it cannot run in training mode");
    PLEURA_CHECK(relu_residual == nullptr, "[BatchNorm2d] ", name_for_messages(),
                 " is folded: its ReLU runs with the convolution (conv_bn_relu)");
    return x;
  }
  const BatchNormParams p{.training = is_training(), .momentum = momentum_, .eps = eps_, .sync = sync_};
  Tensor y = relu_residual != nullptr
                 ? batch_norm2d_relu(x, *weight_, *bias_, *running_mean_, *running_var_, p, *relu_residual)
                 : batch_norm2d(x, *weight_, *bias_, *running_mean_, *running_var_, p);
  if (is_training()) {
    PLEURA_CHECK(num_batches_tracked_->device().is_cpu() && num_batches_tracked_->dtype() == DType::kInt64 &&
                     num_batches_tracked_->numel() == 1,
                 "[BatchNorm2d] num_batches_tracked must be a one-element int64 CPU tensor, got ",
                 describe(*num_batches_tracked_));
    num_batches_tracked_->data<int64_t>()[0] += 1;
  }
  return y;
}

void BatchNorm2d::reset_parameters() {
  auto fill = [](Tensor* t, double v) { t->copy_from(Tensor::full(t->shape(), v, t->dtype(), t->device())); };
  fill(weight_, 1.0);
  fill(bias_, 0.0);
  fill(running_mean_, 0.0);
  fill(running_var_, 1.0);
  fill(num_batches_tracked_, 0.0);
}

int synchronize_batch_norm(Module& model, Communicator* group) {
  int count = 0;
  for (const auto& [name, module] : model.named_modules()) {
    if (auto* bn = dynamic_cast<BatchNorm2d*>(module)) {
      bn->set_sync(group);
      ++count;
    }
  }
  return count;
}

}  // namespace pleura
