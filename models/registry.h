// The model registry: one record per model (its name, builder, input-size rule, encoder prefix,
// state-dict aliases and optional keys, ImageNet encoder import) and its FLOP count per input size; every
// part of Pleura that needs to know a model by name asks here. Implementation in models/registry.cpp,
// tests in tests/models/test_registry.cpp and tests/models/test_flops.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/pretrained.h"
#include "layers/state_dict.h"
#include "models/model.h"

namespace pleura {

struct ModelSpec {
  std::string name;        // "albunet": the name configs ([model] name) and tools (--model) use
  std::string class_name;  // "AlbuNet": the C++ class in models/
  // How the reference solution and its key lists spell this model where it differs from `name`; not
  // accepted as names, listed so that tests/layout can check that layers/ never names a model.
  std::vector<std::string> reference_spellings;
  std::shared_ptr<Model> (*build)();  // a new model, weights not yet initialised (make_model does it)
  int64_t input_multiple;             // input height and width must be positive multiples of this
  std::string encoder_prefix;         // the encoder's parameter names begin with this ([model] freeze_encoder_epochs)
  StateDictRules state_dict;          // aliases and optional keys of its state dicts (load_state_dict)
  EncoderImport encoder;              // how an ImageNet encoder file maps onto its keys (load_pretrained_encoder)
};

// Every model, in a fixed order: albunet, resnet50_unet, scse_unet.
const std::vector<ModelSpec>& model_registry();
// Their names, in the same order.
const std::vector<std::string>& model_names();
// "albunet, resnet50_unet, scse_unet": for error messages.
std::string known_models();
// The record of `name`; nullptr for an unknown name.
const ModelSpec* find_model(const std::string& name);
// The record of `name`; throws "[<caller>] unknown model 'x'; known models: albunet, ..." otherwise.
const ModelSpec& model_spec(const std::string& name, const std::string& caller = "models");

// A new model in training mode on the CPU (float32), initialised by init_weights(seed). Throws for an
// unknown name, listing the known ones.
std::shared_ptr<Model> make_model(const std::string& name, uint64_t seed = 0);

// load_state_dict's options for a checkpoint of model `name` (its rules), naming `file_name` in messages.
LoadOptions model_load_options(const std::string& name, const std::string& file_name);

// Floating-point operations of one forward pass of one image of size H x W (positive multiples of the
// model's input_multiple), as layers/flops.h counts them: every convolution at 2 * K * C/groups * R * S
// per output element plus the SE gates' fc1/fc2 on pooled vectors; batch norm, activations, upsampling,
// pooling and the bias adds are left out. Counted once per model by a FlopTally (nested in any the caller
// has open) around a forward at the smallest legal size (input_multiple x input_multiple, batch 1, no
// gradient) and scaled to H x W: every layer's output map is then a fixed fraction 1/s of the input (s:
// the layer's total stride, a divisor of input_multiple; the x2 upsamplings only undo strides), so each
// convolution's map at H x W is exactly (H/s) x (W/s) and its count exactly proportional to H * W; the
// SE gates' count does not change.
// The training step's convention: forward + backward = 3x the forward (the backward computes the
// gradients of the inputs and of the weights, each a convolution as large as the forward's; the first
// layer's input gradient, which nothing needs, is counted too), so a training step of batch N costs
// 3 * N * model_flops(name, H, W).
int64_t model_flops(const std::string& name, int64_t H, int64_t W);
// 3 * batch * model_flops(name, H, W).
int64_t train_step_flops(const std::string& name, int64_t H, int64_t W, int64_t batch);

}  // namespace pleura
