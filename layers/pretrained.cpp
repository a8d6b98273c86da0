// ImageNet encoder import (see pretrained.h): the encoder's key list is generated from the
// architecture (checked against tests/fixtures/reference/keys_*.txt by tests/layers/test_pretrained.cpp),
// each file naming is translated to one canonical naming (torchvision for ResNets, Cadene for
// SE-ResNeXt), and the canonical names are mapped to the model's by its EncoderImport.
#include "layers/pretrained.h"

#include <map>

namespace pleura {

namespace {

using Arch = EncoderArch;

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool is_nbt(const std::string& key) {
  const std::string suffix = ".num_batches_tracked";
  return key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct SpecKey {
  std::string name;  // canonical naming
  Shape shape;
};

void add_bn(std::vector<SpecKey>& out, const std::string& p, int64_t c) {
  for (const char* f : {".weight", ".bias", ".running_mean", ".running_var"}) out.push_back({p + f, {c}});
  out.push_back({p + ".num_batches_tracked", {}});
}

// The encoder's keys in canonical naming and state_dict order. ResNet34: BasicBlocks; ResNet50:
// Bottlenecks (expansion 4); SE-ResNeXt50 32x4d (Cadene): Bottlenecks of width 2 x planes in 32
// groups, each with an SE module (1x1 convs with bias, reduction 16) registered before downsample.
// Stages hold 3, 4, 6, 3 blocks; only a stage's first block may have a downsample.
std::vector<SpecKey> encoder_spec(Arch arch) {
  std::vector<SpecKey> out;
  bool se = arch == Arch::kSeResNeXt50, basic = arch == Arch::kResNet34;
  std::string stem = se ? "layer0." : "";
  out.push_back({stem + "conv1.weight", {64, 3, 7, 7}});
  add_bn(out, stem + "bn1", 64);
  const int blocks[4] = {3, 4, 6, 3};
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    int64_t planes = int64_t{64} << stage;
    int64_t width = se ? planes * 2 : planes, groups = se ? 32 : 1, outc = basic ? planes : planes * 4;
    for (int b = 0; b < blocks[stage]; ++b) {
      std::string p = cat("layer", stage + 1, ".", b, ".");
      if (basic) {
        out.push_back({p + "conv1.weight", {planes, in, 3, 3}});
        add_bn(out, p + "bn1", planes);
        out.push_back({p + "conv2.weight", {planes, planes, 3, 3}});
        add_bn(out, p + "bn2", planes);
      } else {
        out.push_back({p + "conv1.weight", {width, in, 1, 1}});
        add_bn(out, p + "bn1", width);
        out.push_back({p + "conv2.weight", {width, width / groups, 3, 3}});
        add_bn(out, p + "bn2", width);
        out.push_back({p + "conv3.weight", {outc, width, 1, 1}});
        add_bn(out, p + "bn3", outc);
      }
      if (se) {
        int64_t r = outc / 16;
        out.push_back({p + "se_module.fc1.weight", {r, outc, 1, 1}});
        out.push_back({p + "se_module.fc1.bias", {r}});
        out.push_back({p + "se_module.fc2.weight", {outc, r, 1, 1}});
        out.push_back({p + "se_module.fc2.bias", {outc}});
      }
      if (b == 0 && (stage > 0 || in != outc)) {
        out.push_back({p + "downsample.0.weight", {outc, in, 1, 1}});
        add_bn(out, p + "downsample.1", outc);
      }
      in = outc;
    }
  }
  return out;
}

// Canonical name -> model name, by the model's rules.
std::string to_model_key(const EncoderImport& import, const std::string& k) {
  std::string key = rename_prefix(import.to_model, k);
  PLEURA_CHECK(!key.empty(), "[pretrained] ", import.model, ": no rule of its encoder import renames the ",
               encoder_arch_name(import.arch), " key '", k, "' (internal error in the model registry)");
  return key;
}

// File key -> canonical key, or "" for a key foreign to the naming.
std::string identity_names(const std::string& k) { return k; }
std::string cadene_names(const std::string& k) {
  return (starts_with(k, "conv1.") || starts_with(k, "bn1.") || k.find(".se.") != std::string::npos) ? "" : k;
}
std::string timm_se_names(const std::string& k) {
  if (starts_with(k, "layer0.") || k.find(".se_module.") != std::string::npos) return "";
  if (starts_with(k, "conv1.") || starts_with(k, "bn1.")) return "layer0." + k;
  size_t se = k.find(".se.");
  return se == std::string::npos ? k : k.substr(0, se) + ".se_module." + k.substr(se + 4);
}

struct Naming {
  const char* name;
  bool for_se;             // SE-ResNeXt namings, else ResNet namings
  const char* classifier;  // key prefix of the ImageNet classifier, ignored
  std::string (*to_canonical)(const std::string&);
  const char* example;
};
const Naming kNamings[] = {
    {"torchvision/timm ResNet", false, "fc.", identity_names,
     "conv1.weight, bn1.weight, layer1.0.conv1.weight, layer2.0.downsample.0.weight, fc.weight"},
    {"Cadene pretrainedmodels ResNet", false, "last_linear.", identity_names,
     "conv1.weight, bn1.weight, layer1.0.conv1.weight, last_linear.weight"},
    {"Cadene pretrainedmodels SE-ResNeXt", true, "last_linear.", cadene_names,
     "layer0.conv1.weight, layer0.bn1.weight, layer1.0.se_module.fc1.weight, last_linear.weight"},
    {"timm SE-ResNeXt", true, "fc.", timm_se_names, "conv1.weight, bn1.weight, layer1.0.se.fc1.weight, fc.weight"},
};

std::string short_describe(const Tensor& t) { return cat(dtype_name(t.dtype()), t.shape().str()); }

void append_lines(std::string& msg, const char* title, const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  msg += cat("\n  ", title, " (", keys.size(), "):");
  for (const std::string& k : keys) msg += "\n    " + k;
}

}  // namespace

const char* encoder_arch_name(EncoderArch arch) {
  switch (arch) {
    case Arch::kResNet34: return "ResNet34";
    case Arch::kResNet50: return "ResNet50";
    case Arch::kSeResNeXt50: return "SE-ResNeXt50 32x4d";
  }
  return "?";
}

std::vector<std::pair<std::string, Shape>> pretrained_encoder_keys(const EncoderImport& import) {
  std::vector<std::pair<std::string, Shape>> out;
  for (const SpecKey& k : encoder_spec(import.arch)) out.emplace_back(to_model_key(import, k.name), k.shape);
  return out;
}

namespace {

// The file's keys without a "module." prefix that every key carries (DataParallel checkpoints).
std::vector<std::string> file_keys(const std::vector<NamedTensor>& file, bool& module_prefix) {
  module_prefix = !file.empty();
  for (const NamedTensor& nt : file) module_prefix = module_prefix && starts_with(nt.name, "module.");
  std::vector<std::string> keys;
  for (const NamedTensor& nt : file) keys.push_back(module_prefix ? nt.name.substr(7) : nt.name);
  return keys;
}

// The naming that fits the file best: the one matching the most keys; among equals (ResNet namings
// differ only in the classifier), the one that leaves the fewest keys unexplained. Throws, showing the
// namings expected and the file's first keys, when none matches any key.
const Naming& pick_naming(Arch arch, const std::map<std::string, size_t>& spec_index,
                          const std::vector<NamedTensor>& file, const std::vector<std::string>& keys,
                          const std::string& file_name, const std::string& what, size_t& best) {
  const Naming* naming = nullptr;
  size_t best_other = 0;
  best = 0;
  std::string expected;
  for (const Naming& n : kNamings) {
    if (n.for_se != (arch == Arch::kSeResNeXt50)) continue;
    expected += cat("\n    ", n.name, ": ", n.example);
    size_t score = 0, other = 0;
    for (const std::string& key : keys) {
      bool match = spec_index.count(n.to_canonical(key)) > 0;
      score += match;
      other += !match && !starts_with(key, n.classifier);
    }
    if (score > best || (score == best && score > 0 && other < best_other)) best = score, best_other = other, naming = &n;
  }
  if (naming != nullptr) return *naming;
  std::string first;
  for (size_t i = 0; i < file.size() && i < 6; ++i) first += (i ? ", " : "") + file[i].name;
  bool full_model = false;
  for (const std::string& key : keys) full_model = full_model || starts_with(key, "encoder");
  throw_error(cat("[pretrained] ", file_name, ": no known naming fits ", what, "; expected keys such as:", expected,
                  "\n  the file has ", file.size(), " keys, starting: ", first.empty() ? "(none)" : first,
                  full_model ? "\n  this looks like a whole-model checkpoint: load it with load_state_dict" : ""));
}

}  // namespace

MappedEncoder map_pretrained_encoder(const EncoderImport& import, const std::vector<NamedTensor>& file,
                                     const std::string& file_name) {
  const Arch arch = import.arch;
  std::vector<SpecKey> spec = encoder_spec(arch);
  std::map<std::string, size_t> spec_index;
  for (size_t j = 0; j < spec.size(); ++j) spec_index[spec[j].name] = j;
  std::string what = cat("the ", encoder_arch_name(arch), " encoder of ", import.model);
  bool module_prefix = false;
  const std::vector<std::string> keys = file_keys(file, module_prefix);
  size_t best = 0;
  const Naming* naming = &pick_naming(arch, spec_index, file, keys, file_name, what, best);

  MappedEncoder out;
  out.naming = cat(naming->name, module_prefix ? " (\"module.\" prefix stripped)" : "");
  std::vector<std::string> unexpected, missing, mismatched;
  std::vector<long> source(spec.size(), -1);
  for (size_t i = 0; i < file.size(); ++i) {
    const std::string& key = keys[i];
    if (starts_with(key, naming->classifier)) {
      out.ignored.push_back(file[i].name);
      continue;
    }
    auto j = spec_index.find(naming->to_canonical(key));
    if (j == spec_index.end() || source[j->second] >= 0)
      unexpected.push_back(file[i].name);
    else
      source[j->second] = static_cast<long>(i);
  }
  for (size_t j = 0; j < spec.size(); ++j) {
    std::string model_key = to_model_key(import, spec[j].name);
    if (source[j] < 0) {
      if (!is_nbt(spec[j].name)) missing.push_back(model_key);
      continue;
    }
    const NamedTensor& src = file[static_cast<size_t>(source[j])];
    DType d = src.tensor.dtype();
    bool dtype_ok = is_nbt(spec[j].name) ? d == DType::kInt64 : (d == DType::kFloat32 || d == DType::kFloat64);
    if (!dtype_ok || src.tensor.shape() != spec[j].shape) {
      mismatched.push_back(cat(src.name, ": file ", short_describe(src.tensor), " vs model ",
                               is_nbt(spec[j].name) ? "int64" : "float32", spec[j].shape.str()));
      continue;
    }
    out.tensors.push_back({model_key, src.tensor});
  }
  if (!unexpected.empty() || !missing.empty() || !mismatched.empty()) {
    std::string msg = cat("[pretrained] ", file_name, ": does not fit ", what, " (naming ", out.naming,
                          ", the best fit, matches ", best, " of the file's ", file.size(), " keys): ",
                          missing.size(), " missing, ", unexpected.size(), " unexpected, ", mismatched.size(),
                          " wrong shape or dtype");
    append_lines(msg, "missing encoder keys (model names)", missing);
    append_lines(msg, "unexpected keys in the file", unexpected);
    append_lines(msg, "wrong shape or dtype", mismatched);
    throw_error(msg);
  }
  return out;
}

std::string load_pretrained_encoder(const Slots& slots, const EncoderImport& import, const std::string& path) {
  return load_pretrained_encoder(slots, import, read_safetensors(path), path);
}

std::string load_pretrained_encoder(const Slots& slots, const EncoderImport& import,
                                    const std::vector<NamedTensor>& file, const std::string& path) {
  MappedEncoder m = map_pretrained_encoder(import, file, path);
  LoadOptions opt;
  opt.allow_missing = true;  // the decoder is not in the file and keeps its values
  opt.file_name = cat(path, " (ImageNet encoder, ", m.naming, " naming)");
  LoadReport r = load_state_dict(slots, m.tensors, opt);
  std::string ignored;
  for (const std::string& k : m.ignored) ignored += (ignored.empty() ? "" : ", ") + k;
  return cat("loaded ", r.loaded.size(), " encoder tensors of ", import.model, " from ", path, " (naming: ", m.naming,
             "; ignored: ", ignored.empty() ? "nothing" : ignored, ")");
}

}  // namespace pleura
