// Model: the interface of the three UNets (a Layer from images to logits, with its input-size rule and
// the initialisation its reference code uses). Implementation in models/model.cpp; the models in
// models/albunet.*, models/resnet50_unet.*, models/scse_unet.*, their registry (make_model, names, rules)
// in models/registry.h; tests in tests/models/.
#pragma once

#include <cstdint>
#include <string>

#include "layers/init.h"
#include "layers/module.h"

namespace pleura {

class Model : public Layer {
 public:
  // x [N, 3, H, W] (float32, or float64 on the CPU), H and W positive multiples of input_multiple()
  // -> logits [N, 1, H, W]. Throws, naming the model, the size and the multiple, otherwise.
  Tensor forward(const Tensor& x) final;
  // "albunet", "resnet50_unet" or "scse_unet": its name in the registry (models/registry.h).
  virtual const char* name() const = 0;
  // The registry's input_multiple for name(): 64 for AlbuNet, 32 otherwise.
  int64_t input_multiple() const;
  // The scheme the reference code gives the Conv2d named `module_name` (e.g. "encoder.layer1.0.conv1").
  virtual ConvInit conv_init(const std::string& module_name) const = 0;

 protected:
  virtual Tensor forward_impl(const Tensor& x) = 0;
};

// Fresh weights from `seed`, as the reference code initialises a model built from scratch (see each
// model's conv_init); every BatchNorm2d back to weight 1, bias 0, running mean 0, variance 1.
void init_weights(Model& model, uint64_t seed);

}  // namespace pleura
