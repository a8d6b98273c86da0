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

const OptionalKey* optional_key(const StateDictRules& rules, const std::string& key) {
  for (const OptionalKey& k : rules.optional)
    if (k.key == key) return &k;
  return nullptr;
}

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

std::string rename_prefix(const std::vector<PrefixRename>& rules, const std::string& key) {
  for (const PrefixRename& r : rules)
    if (starts_with(key, r.from)) return r.to + key.substr(r.from.size());
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

namespace {

// The slots by name, those that alias another slot (filled last, from their canonical slot) and the
// model's BatchNorm modules (to recognise num_batches_tracked buffers it does not keep).
struct SlotIndex {
  std::map<std::string, Tensor*> slot_of;
  std::set<std::string> alias_slots;
  std::set<std::string> bn_prefixes;
};

SlotIndex index_slots(const Slots& slots, const StateDictRules& rules) {
  SlotIndex ix;
  for (const auto& [name, t] : slots) {
    PLEURA_CHECK(t != nullptr && t->defined(), "[load_state_dict] slot '", name, "' holds no tensor");
    PLEURA_CHECK(ix.slot_of.emplace(name, t).second, "[load_state_dict] slot '", name, "' is listed twice");
  }
  for (const auto& [name, t] : slots) {
    const std::string target = rename_prefix(rules.aliases, name);
    if (!target.empty() && ix.slot_of.count(target)) ix.alias_slots.insert(name);
    if (ends_with(name, ".running_mean")) ix.bn_prefixes.insert(name.substr(0, name.size() - 13));
  }
  return ix;
}

std::map<std::string, size_t> index_file(const std::vector<NamedTensor>& file, const std::string& fname) {
  std::map<std::string, size_t> file_index;
  for (size_t i = 0; i < file.size(); ++i)
    PLEURA_CHECK(file_index.emplace(file[i].name, i).second, "[load_state_dict] ", fname, ": key '", file[i].name,
                 "' appears twice");
  return file_index;
}

// Which file entry fills each (non-alias) slot; file keys dropped or unexpected go to the report.
using Sources = std::map<std::string, size_t>;

// Sorts the file's keys: a slot's own key is its source; an alias key is set aside (returned, with its
// canonical key); optional keys and num_batches_tracked of the model's BatchNorms are ignored; the rest
// is unexpected.
std::vector<std::pair<size_t, std::string>> sort_file_keys(const std::vector<NamedTensor>& file, const SlotIndex& ix,
                                                           const StateDictRules& rules, Sources& source,
                                                           LoadReport& r) {
  std::vector<std::pair<size_t, std::string>> aliases;
  for (size_t i = 0; i < file.size(); ++i) {
    const std::string& key = file[i].name;
    const std::string target = rename_prefix(rules.aliases, key);
    const OptionalKey* optional = optional_key(rules, key);
    if (ix.slot_of.count(key) && !ix.alias_slots.count(key)) {
      source[key] = i;
    } else if (!target.empty() && ix.slot_of.count(target)) {
      aliases.emplace_back(i, target);
    } else if (optional != nullptr) {
      r.ignored.push_back(cat(key, " (", optional->reason, ")"));
    } else if (is_nbt(key) && ix.bn_prefixes.count(key.substr(0, key.size() - kNbt.size()))) {
      r.ignored.push_back(key + " (the model keeps no num_batches_tracked)");
    } else {
      r.unexpected.push_back(key);
    }
  }
  return aliases;
}

// An alias key loads its canonical slot when the file lacks the canonical key; otherwise it must equal
// the canonical tensor exactly (then it is dropped) or it is a conflict.
void resolve_aliases(const std::vector<NamedTensor>& file, const std::map<std::string, size_t>& file_index,
                     const std::vector<std::pair<size_t, std::string>>& aliases, Sources& source, LoadReport& r) {
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
}

using CopyPlan = std::vector<std::pair<Tensor*, const Tensor*>>;

// The copies to make, slot by slot; slots without a source are kept (optional, or opt.allow_missing) or
// missing, sources of the wrong shape or dtype mismatched.
CopyPlan plan_copies(const Slots& slots, const std::vector<NamedTensor>& file, const SlotIndex& ix,
                     const Sources& source, const LoadOptions& opt, LoadReport& r) {
  CopyPlan plan;
  for (const auto& [name, t] : slots) {
    if (ix.alias_slots.count(name)) continue;
    auto s = source.find(name);
    if (s == source.end()) {
      if (is_nbt(name) || optional_key(opt.rules, name) != nullptr || opt.allow_missing)
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
  return plan;
}

[[noreturn]] void throw_mismatch(const Slots& slots, const std::vector<NamedTensor>& file, const CopyPlan& plan,
                                 const std::string& fname, const LoadReport& r) {
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

// Alias slots take their canonical slot's values (nothing to do when they share its storage).
void fill_alias_slots(const Slots& slots, const SlotIndex& ix, const StateDictRules& rules) {
  for (const auto& [name, t] : slots) {
    if (!ix.alias_slots.count(name)) continue;
    Tensor* canon = ix.slot_of.at(rename_prefix(rules.aliases, name));
    PLEURA_CHECK(t->shape() == canon->shape() && t->dtype() == canon->dtype(), "[load_state_dict] alias slot '", name,
                 "' (", describe(*t), ") does not match its canonical slot (", describe(*canon), ")");
    if (t != canon && !t->same_data(*canon)) t->copy_from(*canon);
  }
}

}  // namespace

LoadReport load_state_dict(const Slots& slots, const std::vector<NamedTensor>& file, const LoadOptions& opt) {
  const SlotIndex ix = index_slots(slots, opt.rules);
  const std::map<std::string, size_t> file_index = index_file(file, opt.file_name);
  LoadReport r;
  Sources source;
  const auto aliases = sort_file_keys(file, ix, opt.rules, source, r);
  resolve_aliases(file, file_index, aliases, source, r);
  const CopyPlan plan = plan_copies(slots, file, ix, source, opt, r);
  if (!r.ok() && opt.strict) throw_mismatch(slots, file, plan, opt.file_name, r);
  for (auto& [slot, src] : plan) copy_into(*slot, *src);
  fill_alias_slots(slots, ix, opt.rules);
  return r;
}

LoadReport load_state_dict_file(const Slots& slots, const std::string& path, LoadOptions opt) {
  opt.file_name = path;
  return load_state_dict(slots, read_safetensors(path), opt);
}

}  // namespace pleura
