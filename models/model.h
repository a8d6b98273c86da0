// Model: the interface of the three UNets (a Layer from images to logits, with its input-size rule and
// the initialisation its reference code uses), and the registry make_model(). Implementation in
// models/model.cpp; the models in models/albunet.*, models/resnet50_unet.*, models/scse_unet.*; tests in
// tests/models/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/init.h"
#include "layers/module.h"

namespace pleura {

class Model : public Layer {
 public:
  // x [N, 3, H, W] (float32, or float64 on the CPU), H and W positive multiples of input_multiple()
  // -> logits [N, 1, H, W]. Throws, naming the model, the size and the multiple, otherwise.
  Tensor forward(const Tensor& x) final;
  // "albunet", "resnet50_unet" or "scse_unet".
  virtual const char* name() const = 0;
  // 64 for AlbuNet (five halvings in the encoder and one more before its center block), 32 otherwise.
  virtual int64_t input_multiple() const = 0;
  // The scheme the reference code gives the Conv2d named `module_name` (e.g. "encoder.layer1.0.conv1").
  virtual ConvInit conv_init(const std::string& module_name) const = 0;

 protected:
  virtual Tensor forward_impl(const Tensor& x) = 0;
};

// Fresh weights from `seed`, as the reference code initialises a model built from scratch (see each
// model's conv_init); every BatchNorm2d back to weight 1, bias 0, running mean 0, variance 1.
void init_weights(Model& model, uint64_t seed);

// The names make_model() accepts, in a fixed order.
const std::vector<std::string>& model_names();
// A new model in training mode on the CPU (float32), initialised by init_weights(seed). Throws for an
// unknown name, listing the known ones.
std::shared_ptr<Model> make_model(const std::string& name, uint64_t seed = 0);

}  // namespace pleura
