// Model::forward's input checks, init_weights and the model registry (models/model.h).
#include "models/model.h"

#include "models/albunet.h"
#include "models/resnet50_unet.h"
#include "models/scse_unet.h"

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

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"albunet", "resnet50_unet", "scse_unet"};
  return names;
}

std::shared_ptr<Model> make_model(const std::string& name, uint64_t seed) {
  std::shared_ptr<Model> model;
  if (name == "albunet") model = std::make_shared<AlbuNet>();
  if (name == "resnet50_unet") model = std::make_shared<Resnet50Unet>();
  if (name == "scse_unet") model = std::make_shared<ScseUnet>();
  if (!model) {
    std::string known;
    for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
    throw_error(cat("[make_model] unknown model '", name, "'; known models: ", known));
  }
  init_weights(*model, seed);
  return model;
}

}  // namespace pleura
