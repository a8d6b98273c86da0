// State dicts: a model's tensors under their PyTorch state_dict names, saved to and loaded from
// safetensors files. Implementation in layers/state_dict.cpp, tests in tests/layers/test_state_dict.cpp.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/safetensors.h"

namespace pleura {

// state_dict name -> the model's tensor, in PyTorch's state_dict order (Module::state_dict_slots()).
using Slots = std::vector<std::pair<std::string, Tensor*>>;

// CPU copies of every slot, in slot order (aliases included when the slots hold them).
std::vector<NamedTensor> state_dict_of(const Slots& slots);
void save_state_dict(const std::string& path, const Slots& slots,
                     const std::map<std::string, std::string>& metadata = {});

// A renaming by key prefix: a key that starts with `from` becomes `to` followed by the rest of the key.
struct PrefixRename {
  std::string from, to;
};
// The first rule whose `from` begins `key` renames it; "" when none does.
std::string rename_prefix(const std::vector<PrefixRename>& rules, const std::string& key);

// A key that a model's files may hold or lack at will (both ways optional), and why (named in reports).
struct OptionalKey {
  std::string key, reason;
};

// What a model's state dicts may hold beyond its slots' exact names. The layers know the mechanism; each
// model's rules are data in the model registry (models/registry.cpp).
struct StateDictRules {
  // Alias keys: PyTorch modules registered under two names (the same tensors), alias prefix -> canonical.
  std::vector<PrefixRename> aliases;
  // Ignored in a file when the model has no such slot; kept when the model has the slot and the file not.
  std::vector<OptionalKey> optional;
};

struct LoadOptions {
  // Strict: any problem (below) throws one error listing all of them and nothing is loaded.
  // Not strict: what matches is loaded and the problems are returned in the report.
  bool strict = true;
  // Slots the file lacks keep their values without complaint (partial loads such as an ImageNet
  // encoder); unexpected, wrong-shaped or conflicting keys are still problems.
  bool allow_missing = false;
  std::string file_name = "<state dict>";  // named in messages
  StateDictRules rules;                      // the model's aliases and optional keys (none by default)
};

struct LoadReport {
  std::vector<std::string> loaded;      // slots that received a tensor
  std::vector<std::string> kept;        // slots left as they were: absent and optional (see below)
  std::vector<std::string> ignored;     // file keys dropped on purpose, with the reason
  // Problems:
  std::vector<std::string> missing;     // required slots with no tensor in the file
  std::vector<std::string> unexpected;  // file keys that match no slot
  std::vector<std::string> mismatched;  // "key: file float32[3] vs model float32[64]"
  std::vector<std::string> conflicts;   // aliases whose values differ from their canonical key

  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty() && conflicts.empty(); }
  std::string summary() const;  // one line of counts
};

// Copies the file's tensors into the slots (each slot keeps its dtype and device; float64 file values
// are converted to the slot's float type). Rules beyond exact name matching, after PyTorch's models:
// - "*.num_batches_tracked" (int64 []) is optional both ways: absent from the file, the slot keeps
//   its value; present in the file for a model without that buffer (its BatchNorm exists), ignored.
// - opt.rules.optional keys are optional both ways too: ignored in the file when the model has no such
//   slot, kept when the file lacks them.
// - opt.rules.aliases: an alias in the file is accepted when it equals its canonical tensor exactly and
//   dropped; a file with only the alias loads through it. Alias slots (when the model lists them) are
//   filled from their canonical slot.
LoadReport load_state_dict(const Slots& slots, const std::vector<NamedTensor>& file, const LoadOptions& opt = {});
// Reads a safetensors file and loads it; opt.file_name is replaced by the path.
LoadReport load_state_dict_file(const Slots& slots, const std::string& path, LoadOptions opt = {});

}  // namespace pleura
