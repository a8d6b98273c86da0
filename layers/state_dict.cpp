// Saving and loading state dicts (see state_dict.h); tests in tests/layers/test_state_dict.cpp.
#include "layers/state_dict.h"

#include <cstring>
#include <set>

namespace pleura {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const std::string kNbt = ".num_batches_tracked";
bool is_nbt(const std::string& key) { return ends_with(key, kNbt); }
bool is_albunet_fc(const std::string& key) { return key == "encoder.fc.weight" || key == "encoder.fc.bias"; }

bool is_float(DType d) { return d == DType::kFloat32 || d == DType::kFloat64; }

// Whether a file tensor can fill a slot: same shape, and the same dtype or two float types.
bool compatible(const Tensor& file, const Tensor& slot) {
  return file.shape() == slot.shape() && (file.dtype() == slot.dtype() || (is_float(file.dtype()) && is_float(slot.dtype())));
}

std::string short_describe(const Tensor& t) { return cat(dtype_name(t.dtype()), t.shape().str()); }

// Exact equality: same dtype, shape and bytes.
bool identical(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return a.nbytes() == 0 || std::memcmp(ha.raw(), hb.raw(), a.nbytes()) == 0;
}

void copy_into(Tensor& slot, const Tensor& src) {
  Tensor s = src.dtype() == slot.dtype() ? src : src.to(Device::cpu()).to(slot.dtype());
  slot.copy_from(s);
}

void append_lines(std::string& msg, const char* title, const std::vector<std::string>& keys) {
  if (keys.empty()) return;
  msg += cat("\n  ", title, " (", keys.size(), "):");
  for (const std::string& k : keys) msg += "\n    " + k;
}

}  // namespace

std::string albunet_alias_target(const std::string& key) {
  if (starts_with(key, "conv1.0.")) return "encoder.conv1." + key.substr(8);
  if (starts_with(key, "conv1.1.")) return "encoder.bn1." + key.substr(8);
  if (key.size() > 6 && starts_with(key, "conv") && key[4] >= '2' && key[4] <= '5' && key[5] == '.')
    return cat("encoder.layer", key[4] - '1', ".", key.substr(6));
  return "";
}

std::string LoadReport::summary() const {
  return cat(loaded.size(), " loaded, ", kept.size(), " kept, ", ignored.size(), " ignored, ", missing.size(),
             " missing, ", unexpected.size(), " unexpected, ", mismatched.size(), " mismatched, ", conflicts.size(),
             " alias conflicts");
}

std::vector<NamedTensor> state_dict_of(const Slots& slots) {
  std::vector<NamedTensor> out;
  out.reserve(slots.size());
  for (const auto& [name, t] : slots) {
    PLEURA_CHECK(t != nullptr && t->defined(), "[state_dict] slot '", name, "' holds no tensor");
    out.push_back({name, t->device().is_cpu() ? t->clone() : t->to(Device::cpu())});
  }
  return out;
}

void save_state_dict(const std::string& path, const Slots& slots, const std::map<std::string, std::string>& metadata) {
  write_safetensors(path, state_dict_of(slots), metadata);
}

LoadReport load_state_dict(const Slots& slots, const std::vector<NamedTensor>& file, const LoadOptions& opt) {
  const std::string& fname = opt.file_name;
  std::map<std::string, Tensor*> slot_of;
  for (const auto& [name, t] : slots) {
    PLEURA_CHECK(t != nullptr && t->defined(), "[load_state_dict] slot '", name, "' holds no tensor");
    PLEURA_CHECK(slot_of.emplace(name, t).second, "[load_state_dict] slot '", name, "' is listed twice");
  }
  // Slots that alias another slot (AlbuNet's conv1..conv5 when the model lists them) are filled last.
  std::set<std::string> alias_slots;
  for (const auto& [name, t] : slots) {
    std::string target = albunet_alias_target(name);
    if (!target.empty() && slot_of.count(target)) alias_slots.insert(name);
  }
  // BatchNorm modules of the model, to recognise num_batches_tracked buffers it does not keep.
  std::set<std::string> bn_prefixes;
  for (const auto& [name, t] : slots)
    if (ends_with(name, ".running_mean")) bn_prefixes.insert(name.substr(0, name.size() - 13));

  std::map<std::string, size_t> file_index;
  for (size_t i = 0; i < file.size(); ++i)
    PLEURA_CHECK(file_index.emplace(file[i].name, i).second, "[load_state_dict] ", fname, ": key '", file[i].name,
                 "' appears twice");

  LoadReport r;
  std::map<std::string, size_t> source;  // slot -> file entry that fills it
  std::vector<std::pair<size_t, std::string>> aliases;
  for (size_t i = 0; i < file.size(); ++i) {
    const std::string& key = file[i].name;
    std::string target = albunet_alias_target(key);
    if (slot_of.count(key) && !alias_slots.count(key)) {
      source[key] = i;
    } else if (!target.empty() && slot_of.count(target)) {
      aliases.emplace_back(i, target);
    } else if (is_albunet_fc(key)) {
      r.ignored.push_back(key + " (AlbuNet's unused ImageNet classifier)");
    } else if (is_nbt(key) && bn_prefixes.count(key.substr(0, key.size() - kNbt.size()))) {
      r.ignored.push_back(key + " (the model keeps no num_batches_tracked)");
    } else {
      r.unexpected.push_back(key);
    }
  }
  for (const auto& [i, target] : aliases) {
    const std::string& key = file[i].name;
    auto canon = file_index.find(target);
    if (canon == file_index.end()) {
      source[target] = i;  // a file holding only the alias loads through it
    } else if (identical(file[i].tensor, file[canon->second].tensor)) {
      r.ignored.push_back(cat(key, " (alias equal to ", target, ")"));
    } else {
      r.conflicts.push_back(cat(key, " differs from its canonical key ", target, " (",
                                short_describe(file[i].tensor), " vs ", short_describe(file[canon->second].tensor),
                                ")"));
    }
  }

  std::vector<std::pair<Tensor*, const Tensor*>> plan;
  for (const auto& [name, t] : slots) {
    if (alias_slots.count(name)) continue;
    auto s = source.find(name);
    if (s == source.end()) {
      if (is_nbt(name) || is_albunet_fc(name) || opt.allow_missing)
        r.kept.push_back(name);
      else
        r.missing.push_back(name);
      continue;
    }
    const NamedTensor& src = file[s->second];
    if (!compatible(src.tensor, *t)) {
      r.mismatched.push_back(cat(src.name, ": file ", short_describe(src.tensor), " vs model ", short_describe(*t)));
      continue;
    }
    plan.emplace_back(t, &src.tensor);
    r.loaded.push_back(src.name == name ? name : cat(name, " (from ", src.name, ")"));
  }

  if (!r.ok() && opt.strict) {
    std::string msg = cat("[load_state_dict] ", fname, " does not match the model (", slots.size(), " slots, ",
                          file.size(), " keys in the file): ", r.missing.size(), " missing, ", r.unexpected.size(),
                          " unexpected, ", r.mismatched.size(), " wrong shape or dtype, ", r.conflicts.size(),
                          " alias conflicts; nothing was loaded");
    if (plan.empty() && !file.empty())
      msg += "\n  no key of the file fits the model: is it a checkpoint of another model, or an ImageNet encoder "
             "(load those with load_pretrained_encoder)?";
    append_lines(msg, "missing from the file", r.missing);
    append_lines(msg, "unexpected in the file", r.unexpected);
    append_lines(msg, "wrong shape or dtype", r.mismatched);
    append_lines(msg, "alias differs from its canonical key", r.conflicts);
    throw_error(msg);
  }

  for (auto& [slot, src] : plan) copy_into(*slot, *src);
  for (const auto& [name, t] : slots) {
    if (!alias_slots.count(name)) continue;
    Tensor* canon = slot_of[albunet_alias_target(name)];
    PLEURA_CHECK(t->shape() == canon->shape() && t->dtype() == canon->dtype(), "[load_state_dict] alias slot '", name,
                 "' (", describe(*t), ") does not match its canonical slot (", describe(*canon), ")");
    if (t != canon && !t->same_data(*canon)) t->copy_from(*canon);
  }
  return r;
}

LoadReport load_state_dict_file(const Slots& slots, const std::string& path, LoadOptions opt) {
  opt.file_name = path;
  return load_state_dict(slots, read_safetensors(path), opt);
}

}  // namespace pleura
