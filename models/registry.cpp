// The model registry's table and its look-ups, make_model and model_flops (models/registry.h).
#include "models/registry.h"

#include <map>
#include <mutex>

#include "engine/autograd.h"
#include "layers/flops.h"
#include "models/albunet.h"
#include "models/resnet50_unet.h"
#include "models/scse_unet.h"

namespace pleura {

namespace {

// AlbuNet: TernausNet registers torchvision's resnet34 as "encoder" and its stages again as conv1 =
// Sequential(encoder.conv1, encoder.bn1, ...), conv2..conv5 = encoder.layer1..layer4, so PyTorch's state
// dict holds every encoder tensor twice (tests/fixtures/reference/keys_albunet.txt, "= canonical"); the
// encoder's classifier fc, unused by the UNet, is in it too. Its ImageNet encoder keeps torchvision's names.
ModelSpec albunet_spec() {
  return {.name = "albunet",
          .class_name = "AlbuNet",
          .reference_spellings = {},
          .build = [] { return std::shared_ptr<Model>(std::make_shared<AlbuNet>()); },
          .input_multiple = 64,  // five halvings in the encoder and one more before the center block
          .encoder_prefix = "encoder.",
          .state_dict = {.aliases = {{"conv1.0.", "encoder.conv1."},
                                     {"conv1.1.", "encoder.bn1."},
                                     {"conv2.", "encoder.layer1."},
                                     {"conv3.", "encoder.layer2."},
                                     {"conv4.", "encoder.layer3."},
                                     {"conv5.", "encoder.layer4."}},
                         .optional = {{"encoder.fc.weight", "AlbuNet's unused ImageNet classifier"},
                                      {"encoder.fc.bias", "AlbuNet's unused ImageNet classifier"}}},
          .encoder = {.model = "albunet", .arch = EncoderArch::kResNet34, .to_model = {{"", "encoder."}}}};
}

// selim_sef's UNets list the encoder in five stages: 0 = the stem, 1 = [maxpool, layer1] (so layer1 is
// "1.1"), 2..4 = layer2..layer4.
std::vector<PrefixRename> selim_stages(std::vector<PrefixRename> stem) {
  stem.insert(stem.end(), {{"layer1.", "encoder_stages.1.1."},
                           {"layer2.", "encoder_stages.2."},
                           {"layer3.", "encoder_stages.3."},
                           {"layer4.", "encoder_stages.4."}});
  return stem;
}

// ResNet50-UNet: the stem is Sequential(conv1, bn1, relu), so torchvision's conv1 / bn1 are 0.0 / 0.1.
ModelSpec resnet50_unet_spec() {
  return {.name = "resnet50_unet",
          .class_name = "Resnet50Unet",
          .reference_spellings = {},
          .build = [] { return std::shared_ptr<Model>(std::make_shared<Resnet50Unet>()); },
          .input_multiple = 32,
          .encoder_prefix = "encoder_stages.",
          .state_dict = {},
          .encoder = {.model = "resnet50_unet",
                      .arch = EncoderArch::kResNet50,
                      .to_model = selim_stages({{"conv1.", "encoder_stages.0.0."}, {"bn1.", "encoder_stages.0.1."}})}};
}

// SCSE-UNet: the stem is Cadene's layer0 (conv1, bn1, relu1 by name).
ModelSpec scse_unet_spec() {
  return {.name = "scse_unet",
          .class_name = "ScseUnet",
          // The key list's name (keys_scseunet.txt), the solution's model name, and selim_sef's backbone_arch.
          .reference_spellings = {"scseunet", "seresnext50_scse_unet", "seresnext50"},
          .build = [] { return std::shared_ptr<Model>(std::make_shared<ScseUnet>()); },
          .input_multiple = 32,
          .encoder_prefix = "encoder_stages.",
          .state_dict = {},
          .encoder = {.model = "scse_unet",
                      .arch = EncoderArch::kSeResNeXt50,
                      .to_model = selim_stages({{"layer0.", "encoder_stages.0."}})}};
}

}  // namespace

const std::vector<ModelSpec>& model_registry() {
  static const std::vector<ModelSpec> specs = {albunet_spec(), resnet50_unet_spec(), scse_unet_spec()};
  return specs;
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const ModelSpec& s : model_registry()) out.push_back(s.name);
    return out;
  }();
  return names;
}

std::string known_models() {
  std::string known;
  for (const std::string& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  return known;
}

const ModelSpec* find_model(const std::string& name) {
  for (const ModelSpec& s : model_registry())
    if (s.name == name) return &s;
  return nullptr;
}

const ModelSpec& model_spec(const std::string& name, const std::string& caller) {
  const ModelSpec* spec = find_model(name);
  if (spec == nullptr) throw_error(cat("[", caller, "] unknown model '", name, "'; known models: ", known_models()));
  return *spec;
}

std::shared_ptr<Model> make_model(const std::string& name, uint64_t seed) {
  std::shared_ptr<Model> model = model_spec(name, "make_model").build();
  init_weights(*model, seed);
  model->name_layers();  // out-of-memory messages name the layer (layers/module.h)
  return model;
}

LoadOptions model_load_options(const std::string& name, const std::string& file_name) {
  LoadOptions opt;
  opt.file_name = file_name;
  opt.rules = model_spec(name, "load_state_dict").state_dict;
  return opt;
}

int64_t Model::input_multiple() const { return model_spec(name(), "Model").input_multiple; }

namespace {

// The FLOP terms of one forward at input_multiple x input_multiple (see model_flops), counted once.
const std::vector<FlopTerm>& probe_terms(const ModelSpec& spec) {
  static std::mutex mutex;
  static std::map<std::string, std::vector<FlopTerm>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(spec.name);
  if (it == cache.end()) {
    std::shared_ptr<Model> model = spec.build();  // zero weights: the count needs shapes, not values
    model->eval();
    NoGradGuard no_grad;
    FlopTally tally;
    model->forward(Tensor::ones({1, 3, spec.input_multiple, spec.input_multiple}));
    it = cache.emplace(spec.name, tally.terms()).first;
  }
  return it->second;
}

}  // namespace

int64_t model_flops(const std::string& name, int64_t H, int64_t W) {
  const ModelSpec& spec = model_spec(name, "model_flops");
  const int64_t m = spec.input_multiple;
  PLEURA_CHECK(H >= m && W >= m && H % m == 0 && W % m == 0, "[model_flops] ", name, ": input size ", H, "x", W,
               " (H x W) is not supported: height and width must be positive multiples of ", m);
  return flops_at(probe_terms(spec), m, m, H, W);
}

int64_t train_step_flops(const std::string& name, int64_t H, int64_t W, int64_t batch) {
  PLEURA_CHECK(batch >= 1, "[train_step_flops] batch ", batch, " must be >= 1");
  return 3 * batch * model_flops(name, H, W);
}

}  // namespace pleura
