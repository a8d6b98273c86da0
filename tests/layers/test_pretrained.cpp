// Tests of layers/pretrained.h with each model's EncoderImport from the registry (models/registry.h): the
// generated encoder keys against the reference key lists, ImageNet files in every naming (torchvision/timm
// or Cadene ResNet34/50, Cadene or timm SE-ResNeXt50) loaded into stand-in models, and the errors for
// files that do not fit or an import that lacks a rule.
#include "layers/pretrained.h"

#include <cstdio>
#include <filesystem>

#include "engine/random.h"
#include "models/registry.h"
#include "tests/layers/reference_keys.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pleura_test_" + name)).string();
}

bool starts(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// The registry's import for a reference key list's model ("albunet", "resnet50", "scseunet").
const EncoderImport& import_of(const std::string& reference_model) {
  const std::string name = reference_model == "resnet50"   ? "resnet50_unet"
                           : reference_model == "scseunet" ? "scse_unet"
                                                           : reference_model;
  return model_spec(name).encoder;
}
bool is_encoder(const std::string& k) { return starts(k, "encoder.") || starts(k, "encoder_stages."); }
bool is_nbt(const std::string& k) { return k.find("num_batches_tracked") != std::string::npos; }
bool model_slot(const ReferenceKey& k) { return k.alias_of.empty() && !starts(k.name, "encoder.fc."); }

// Model key -> key in an ImageNet file, written here in the reverse direction of the library's
// mapping: AlbuNet strips "encoder."; the selim_zoo stages 0 / 1.1 / N become the stem / layer1 / layerN.
std::string replace_prefix(const std::string& k, const std::string& from, const std::string& to) {
  return starts(k, from) ? to + k.substr(from.size()) : "";
}
std::string stage_to_layer(const std::string& k) {
  std::string r = replace_prefix(k, "encoder_stages.1.1.", "layer1.");
  for (char n : {'2', '3', '4'})
    if (r.empty()) r = replace_prefix(k, std::string("encoder_stages.") + n + ".", std::string("layer") + n + ".");
  return r;
}
std::string torchvision_resnet34(const std::string& k) { return replace_prefix(k, "encoder.", ""); }
std::string torchvision_resnet50(const std::string& k) {
  std::string r = replace_prefix(k, "encoder_stages.0.0.", "conv1.");
  if (r.empty()) r = replace_prefix(k, "encoder_stages.0.1.", "bn1.");
  return r.empty() ? stage_to_layer(k) : r;
}
std::string cadene_seresnext(const std::string& k) {
  std::string r = replace_prefix(k, "encoder_stages.0.", "layer0.");
  return r.empty() ? stage_to_layer(k) : r;
}
std::string timm_seresnext(const std::string& k) {
  std::string r = replace_prefix(k, "encoder_stages.0.", "");
  if (r.empty()) r = stage_to_layer(k);
  size_t se = r.find(".se_module.");
  return se == std::string::npos ? r : r.substr(0, se) + ".se." + r.substr(se + 11);
}

struct ImageNetFile {
  std::vector<NamedTensor> tensors;
  std::map<std::string, std::string> file_key_of;  // model key -> file key
};

// An ImageNet checkpoint for `model` in a naming: random encoder tensors, the classifier, with or
// without num_batches_tracked, optionally prefixed "module.".
ImageNetFile imagenet_file(const std::string& model, std::string (*rename)(const std::string&),
                           const std::vector<std::string>& classifier, int64_t features, bool nbt,
                           uint64_t seed, const std::string& prefix = "") {
  ImageNetFile f;
  Rng rng(seed);
  for (const ReferenceKey& k : read_reference_keys(model)) {
    if (!model_slot(k) || !is_encoder(k.name) || (is_nbt(k.name) && !nbt)) continue;
    std::string fk = prefix + rename(k.name);
    REQUIRE_MESSAGE(fk != prefix, "no file name for ", k.name);
    Tensor t = k.dtype == DType::kInt64 ? Tensor::from_vector({static_cast<double>(rng.below(100000))}, {}, DType::kInt64)
                                        : random_floats(k.shape, rng);
    f.tensors.push_back({fk, t});
    f.file_key_of[k.name] = fk;
  }
  f.tensors.push_back({prefix + classifier[0], random_floats({1000, features}, rng)});
  f.tensors.push_back({prefix + classifier[1], random_floats({1000}, rng)});
  return f;
}

enum class Via { kFile, kMemory };

// Loads the file (written to disk, or handed over in memory: the same code after reading) into a
// stand-in model and checks every encoder slot got exactly its tensor while the decoder (and
// num_batches_tracked absent from the file) kept its values.
void check_import(const std::string& model, const ImageNetFile& f, const std::string& naming,
                  const std::string& ignored, Via via) {
  FakeModel m = make_fake_model(read_reference_keys(model), 77, model_slot);
  std::map<std::string, Tensor> before = snapshot(m.slots);
  std::string report;
  if (via == Via::kFile) {
    std::string path = temp_path("imagenet_" + model + ".safetensors");
    write_safetensors(path, f.tensors);
    report = load_pretrained_encoder(m.slots, import_of(model), path);
    std::remove(path.c_str());
  } else {
    report = load_pretrained_encoder(m.slots, import_of(model), f.tensors, "memory");
  }
  CHECK(report.find("naming: " + naming) != std::string::npos);
  CHECK(report.find("ignored: " + ignored) != std::string::npos);
  std::map<std::string, const Tensor*> file;
  for (const NamedTensor& nt : f.tensors) file[nt.name] = &nt.tensor;
  int encoder = 0, from_file = 0, bad = 0;
  for (const auto& [name, t] : m.slots) {
    auto fk = f.file_key_of.find(name);
    const Tensor& want = fk != f.file_key_of.end() ? *file.at(fk->second) : before.at(name);
    encoder += is_encoder(name);
    from_file += fk != f.file_key_of.end();
    if (!same_tensor(*t, want) && bad++ < 5) MESSAGE(name, " does not hold the expected tensor");
  }
  CHECK(bad == 0);
  CHECK(report.find(cat("loaded ", from_file, " encoder tensors")) != std::string::npos);
  CHECK(from_file > 100);
  CHECK(encoder == static_cast<int>(pretrained_encoder_keys(import_of(model)).size()));
}

}  // namespace

TEST_CASE("pretrained: the generated encoder keys are the reference key lists' encoder keys, in order") {
  for (const std::string model : {"albunet", "resnet50", "scseunet"}) {
    INFO(model);
    std::vector<std::pair<std::string, Shape>> want;
    for (const ReferenceKey& k : read_reference_keys(model))
      if (model_slot(k) && is_encoder(k.name)) want.emplace_back(k.name, k.shape);
    std::vector<std::pair<std::string, Shape>> got = pretrained_encoder_keys(import_of(model));
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK_MESSAGE(got[i].first == want[i].first, i);
      CHECK_MESSAGE(got[i].second == want[i].second, got[i].first);
    }
  }
  // Counts: ResNet34 has 36 BatchNorms (5 keys each) + 36 convs + 0 classifier = 216 keys; ResNet50
  // 53 BatchNorms + 53 convs = 318; SE-ResNeXt50 adds 4 SE keys to each of its 16 blocks: 382.
  CHECK(pretrained_encoder_keys(import_of("albunet")).size() == 216);
  CHECK(pretrained_encoder_keys(import_of("resnet50")).size() == 318);
  CHECK(pretrained_encoder_keys(import_of("scseunet")).size() == 382);
}

TEST_CASE("pretrained: an import's rules rename canonical keys by prefix, first fit first; none fitting is an error") {
  // A made-up model that keeps torchvision's stem names and moves layer1 under "body.".
  EncoderImport import{.model = "toy", .arch = EncoderArch::kResNet34,
                       .to_model = {{"layer1.", "body.one."}, {"", "net."}}};
  std::vector<std::pair<std::string, Shape>> keys = pretrained_encoder_keys(import);
  REQUIRE(keys.size() == 216);
  CHECK(keys[0].first == "net.conv1.weight");
  CHECK(keys[0].second == Shape({64, 3, 7, 7}));
  CHECK(keys[6].first == "body.one.0.conv1.weight");      // conv1 + bn1's 5 keys, then layer1.0.conv1
  CHECK(keys[6].second == Shape({64, 64, 3, 3}));
  CHECK(keys.back().first == "net.layer4.2.bn2.num_batches_tracked");
  import.to_model = {{"conv1.", "stem.conv."}, {"bn1.", "stem.bn."}, {"layer1.", "a."}, {"layer2.", "b."},
                     {"layer3.", "c."}};
  expect_error([&] { pretrained_encoder_keys(import); },
               {"[pretrained] toy: no rule of its encoder import renames the ResNet34 key 'layer4.0.conv1.weight'"});
}

TEST_CASE("pretrained: torchvision/timm and Cadene ResNet34 and ResNet50 files load into AlbuNet and the ResNet50 UNet") {
  check_import("albunet", imagenet_file("albunet", torchvision_resnet34, {"fc.weight", "fc.bias"}, 512, true, 1),
               "torchvision/timm ResNet", "fc.weight, fc.bias", Via::kFile);
  // Old torchvision checkpoints have no num_batches_tracked: the model keeps its own.
  check_import("albunet", imagenet_file("albunet", torchvision_resnet34, {"fc.weight", "fc.bias"}, 512, false, 2),
               "torchvision/timm ResNet", "fc.weight, fc.bias", Via::kMemory);
  check_import("albunet",
               imagenet_file("albunet", torchvision_resnet34, {"last_linear.weight", "last_linear.bias"}, 512, false, 7),
               "Cadene pretrainedmodels ResNet", "last_linear.weight, last_linear.bias", Via::kMemory);
  check_import("resnet50", imagenet_file("resnet50", torchvision_resnet50, {"fc.weight", "fc.bias"}, 2048, true, 3),
               "torchvision/timm ResNet", "fc.weight, fc.bias", Via::kMemory);
  check_import("resnet50",
               imagenet_file("resnet50", torchvision_resnet50, {"fc.weight", "fc.bias"}, 2048, false, 4, "module."),
               "torchvision/timm ResNet (\"module.\" prefix stripped)", "module.fc.weight, module.fc.bias", Via::kMemory);
}

TEST_CASE("pretrained: Cadene and timm SE-ResNeXt50 files load into the SCSE UNet") {
  check_import("scseunet",
               imagenet_file("scseunet", cadene_seresnext, {"last_linear.weight", "last_linear.bias"}, 2048, false, 5),
               "Cadene pretrainedmodels SE-ResNeXt", "last_linear.weight, last_linear.bias", Via::kFile);
  check_import("scseunet", imagenet_file("scseunet", timm_seresnext, {"fc.weight", "fc.bias"}, 2048, true, 6),
               "timm SE-ResNeXt", "fc.weight, fc.bias", Via::kMemory);
}

TEST_CASE("pretrained: key mappings worked by hand") {
  // One tensor per naming, renamed by hand from the libraries' key lists and the reference key files.
  struct Pair {
    const char* model;
    const char* file_key;
    const char* model_key;
  };
  const Pair pairs[] = {
      {"albunet", "layer2.0.downsample.0.weight", "encoder.layer2.0.downsample.0.weight"},
      {"resnet50", "conv1.weight", "encoder_stages.0.0.weight"},
      {"resnet50", "bn1.running_var", "encoder_stages.0.1.running_var"},
      {"resnet50", "layer1.0.downsample.1.running_var", "encoder_stages.1.1.0.downsample.1.running_var"},
      {"resnet50", "layer4.2.conv3.weight", "encoder_stages.4.2.conv3.weight"},
      {"scseunet", "layer0.conv1.weight", "encoder_stages.0.conv1.weight"},
      {"scseunet", "layer1.0.se_module.fc1.weight", "encoder_stages.1.1.0.se_module.fc1.weight"},
      {"scseunet", "layer3.5.se_module.fc2.bias", "encoder_stages.3.5.se_module.fc2.bias"},
  };
  for (const Pair& p : pairs) {
    INFO(p.file_key);
    std::string model = p.model;
    auto rename = model == "albunet" ? torchvision_resnet34 : model == "resnet50" ? torchvision_resnet50 : cadene_seresnext;
    std::vector<std::string> classifier = model == "scseunet" ? std::vector<std::string>{"last_linear.weight", "last_linear.bias"}
                                                              : std::vector<std::string>{"fc.weight", "fc.bias"};
    ImageNetFile f = imagenet_file(model, rename, classifier, 7, true, 9);
    MappedEncoder m = map_pretrained_encoder(import_of(model), f.tensors, "hand.safetensors");
    const Tensor* from = nullptr;
    for (const NamedTensor& nt : f.tensors)
      if (nt.name == p.file_key) from = &nt.tensor;
    REQUIRE(from != nullptr);
    bool found = false;
    for (const NamedTensor& nt : m.tensors)
      if (nt.name == p.model_key) found = same_tensor(nt.tensor, *from);
    CHECK(found);
  }
  // timm's SE names: "se.fc1" is Cadene's "se_module.fc1", the stem has no "layer0.".
  ImageNetFile t = imagenet_file("scseunet", timm_seresnext, {"fc.weight", "fc.bias"}, 2048, true, 10);
  MappedEncoder m = map_pretrained_encoder(import_of("scseunet"), t.tensors, "timm.safetensors");
  CHECK(m.naming == "timm SE-ResNeXt");
  std::map<std::string, const Tensor*> got;
  for (const NamedTensor& nt : m.tensors) got[nt.name] = &nt.tensor;
  for (const NamedTensor& nt : t.tensors) {
    if (nt.name == "layer2.3.se.fc1.weight") CHECK(same_tensor(*got.at("encoder_stages.2.3.se_module.fc1.weight"), nt.tensor));
    if (nt.name == "bn1.bias") CHECK(same_tensor(*got.at("encoder_stages.0.bn1.bias"), nt.tensor));
  }
}

TEST_CASE("pretrained: files that do not fit get one error listing every problem, and nothing is loaded") {
  ImageNetFile good = imagenet_file("albunet", torchvision_resnet34, {"fc.weight", "fc.bias"}, 512, true, 11);
  std::vector<NamedTensor> broken;
  for (const NamedTensor& nt : good.tensors) {
    if (nt.name == "layer3.4.conv2.weight") continue;                                                    // missing
    if (nt.name == "layer1.1.bn2.bias") broken.push_back({nt.name, Tensor::zeros({65})});                // shape
    else if (nt.name == "bn1.num_batches_tracked") broken.push_back({nt.name, Tensor::zeros({})});      // dtype
    else broken.push_back(nt);
  }
  broken.push_back({"layer5.0.conv1.weight", Tensor::ones({1})});  // unexpected
  expect_error([&] { map_pretrained_encoder(import_of("albunet"), broken, "broken.safetensors"); },
               {"[pretrained] broken.safetensors: does not fit the ResNet34 encoder of albunet",
                "naming torchvision/timm ResNet", "1 missing, 1 unexpected, 2 wrong shape or dtype",
                "encoder.layer3.4.conv2.weight", "layer5.0.conv1.weight",
                "layer1.1.bn2.bias: file float32[65] vs model float32[64]",
                "bn1.num_batches_tracked: file float32[] vs model int64[]"});

  // A ResNet50 file for AlbuNet: conv3/bn3 keys are unexpected, shapes differ.
  ImageNetFile r50 = imagenet_file("resnet50", torchvision_resnet50, {"fc.weight", "fc.bias"}, 2048, true, 12);
  expect_error([&] { map_pretrained_encoder(import_of("albunet"), r50.tensors, "r50.safetensors"); },
               {"does not fit the ResNet34 encoder", "layer1.0.conv3.weight", "layer1.0.conv1.weight: file float32[64, 64, 1, 1] vs model float32[64, 64, 3, 3]"});

  // No naming fits: the namings expected and the file's first keys are shown.
  expect_error([&] {
    map_pretrained_encoder(import_of("scseunet"), {{"features.0.weight", Tensor::ones({1})}}, "vgg.safetensors");
  },
               {"vgg.safetensors: no known naming fits the SE-ResNeXt50 32x4d encoder of scse_unet",
                "Cadene pretrainedmodels SE-ResNeXt: layer0.conv1.weight", "timm SE-ResNeXt: conv1.weight",
                "the file has 1 keys, starting: features.0.weight"});
  FakeModel whole = make_fake_model(read_reference_keys("resnet50"), 13);
  expect_error([&] { map_pretrained_encoder(import_of("resnet50"), state_dict_of(whole.slots), "whole.safetensors"); },
               {"no known naming fits", "whole-model checkpoint: load it with load_state_dict"});

  // The model's slots lack an encoder key: named, and nothing changes.
  FakeModel m = make_fake_model(read_reference_keys("albunet"), 14, model_slot);
  Slots partial;
  for (const auto& s : m.slots)
    if (s.first != "encoder.layer2.1.bn1.bias") partial.push_back(s);
  std::map<std::string, Tensor> before = snapshot(partial);
  expect_error([&] { load_pretrained_encoder(partial, import_of("albunet"), good.tensors, "partial.safetensors"); },
               {"partial.safetensors (ImageNet encoder, torchvision/timm ResNet naming)",
                "unexpected in the file (1):\n    encoder.layer2.1.bn1.bias"});
  for (const auto& [name, t] : partial) CHECK_MESSAGE(same_tensor(*t, before.at(name)), name);
}
