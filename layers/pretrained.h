// ImageNet-pretrained encoders: safetensors files of torchvision / timm ResNets and of Cadene or timm
// SE-ResNeXt50, renamed to a model's encoder keys by the model's EncoderImport. Implementation in
// layers/pretrained.cpp, tests in tests/layers/test_pretrained.cpp.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "layers/state_dict.h"

namespace pleura {

// The encoder architectures an ImageNet file can hold.
enum class EncoderArch { kResNet34, kResNet50, kSeResNeXt50 };
// "ResNet34", "ResNet50", "SE-ResNeXt50 32x4d".
const char* encoder_arch_name(EncoderArch arch);

// How a model takes an ImageNet encoder (each model's is data in the model registry, models/registry.cpp):
// the architecture, and how the encoder's canonical key names (torchvision's for the ResNets, Cadene
// pretrainedmodels' for SE-ResNeXt50: "conv1.weight", "layer1.0.bn2.bias", "layer0.conv1.weight",
// "layer2.0.se_module.fc1.weight") become the model's keys: the first rule whose prefix fits renames a key,
// and every canonical key must fit one.
struct EncoderImport {
  std::string model;  // the model's name, for messages
  EncoderArch arch = EncoderArch::kResNet34;
  std::vector<PrefixRename> to_model;
};

// Namings recognised in the file (detected from its keys; a "module." prefix on every key is stripped):
//   ResNet34/50: torchvision = timm ("conv1.weight", "bn1.*", "layer1.0.conv1.weight",
//     "layer2.0.downsample.0.weight", classifier "fc.*"), or Cadene pretrainedmodels (the same with
//     classifier "last_linear.*");
//   SE-ResNeXt50: Cadene pretrainedmodels ("layer0.conv1.weight", "layer1.0.se_module.fc1.weight",
//     classifier "last_linear.*") or timm ("conv1.weight", "layer1.0.se.fc1.weight", classifier "fc.*").
struct MappedEncoder {
  std::vector<NamedTensor> tensors;  // under the model's state_dict names, in the model's order
  std::string naming;                // the naming detected, e.g. "torchvision/timm ResNet"
  std::vector<std::string> ignored;  // file keys dropped: the ImageNet classifier
};

// Renames an ImageNet checkpoint's tensors to the model's encoder keys. Throws one error listing every
// unmatched key (other than the classifier), every missing encoder key (num_batches_tracked is
// optional) and every shape or dtype mismatch, naming the file and the naming tried; or, when no
// naming fits at all, an error that shows the namings expected and the file's first keys.
MappedEncoder map_pretrained_encoder(const EncoderImport& import, const std::vector<NamedTensor>& file,
                                     const std::string& file_name);

// Reads `path` and loads the encoder's tensors into `slots` (decoder slots keep their values).
// Returns a one-line report: how many tensors, from which naming, what was ignored.
std::string load_pretrained_encoder(const Slots& slots, const EncoderImport& import, const std::string& path);
// The same on tensors already read; file_name is used in messages.
std::string load_pretrained_encoder(const Slots& slots, const EncoderImport& import,
                                    const std::vector<NamedTensor>& file, const std::string& file_name);

// The encoder's keys in the model with their shapes, in state_dict order (num_batches_tracked
// included, shape []); the list the file is checked against.
std::vector<std::pair<std::string, Shape>> pretrained_encoder_keys(const EncoderImport& import);

}  // namespace pleura
