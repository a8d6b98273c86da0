// Tests of layers/state_dict.h on stand-in models built from the reference key lists, with each model's
// rules (aliases, optional keys) from the registry (models/registry.h): round trips, the file variants the
// reference exports (AlbuNet with/without aliases, encoder.fc, num_batches_tracked), one error listing
// every mismatch, non-strict loads, dtype and device rules, and the rules' mechanism on a hand-made case.
#include "layers/state_dict.h"

#include <cstdio>
#include <filesystem>
#include <set>

#include "models/registry.h"
#include "tests/layers/reference_keys.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("pleura_test_" + name)).string();
}

// The registry's state-dict rules of a reference key list's model ("albunet", "resnet50", "scseunet").
const StateDictRules& rules_of(const std::string& reference_model) {
  const std::string name = reference_model == "resnet50"   ? "resnet50_unet"
                           : reference_model == "scseunet" ? "scse_unet"
                                                           : reference_model;
  return model_spec(name).state_dict;
}
// AlbuNet's canonical key for an alias key, "" for any other key.
std::string albunet_alias_target(const std::string& key) { return rename_prefix(rules_of("albunet").aliases, key); }

bool is_nbt(const std::string& k) { return k.find("num_batches_tracked") != std::string::npos; }
bool is_fc(const std::string& k) { return k.rfind("encoder.fc.", 0) == 0; }

// Pleura's likely AlbuNet: no alias slots, no classifier. PyTorch's: all 462 keys.
bool pleura_albunet(const ReferenceKey& k) { return k.alias_of.empty() && !is_fc(k.name); }
bool every_key(const ReferenceKey&) { return true; }

// The file a reference export would hold: every key of the full PyTorch model, filtered.
std::vector<NamedTensor> export_of(const FakeModel& m, bool aliases, bool fc, bool nbt, bool canonical_aliased = true) {
  std::set<std::string> aliased;
  for (const auto& [name, t] : m.slots)
    if (!albunet_alias_target(name).empty()) aliased.insert(albunet_alias_target(name));
  std::vector<NamedTensor> out;
  for (const auto& [name, t] : m.slots) {
    bool alias = !albunet_alias_target(name).empty();
    if ((alias && !aliases) || (is_fc(name) && !fc) || (is_nbt(name) && !nbt)) continue;
    if (!canonical_aliased && aliased.count(name)) continue;
    out.push_back({name, *t});
  }
  return out;
}

// Every slot equals the source model's tensor of the same canonical name, except num_batches_tracked
// and encoder.fc when the file lacks them (then they equal `before`).
void check_loaded(const Slots& slots, const FakeModel& src, const std::map<std::string, Tensor>& before,
                  bool nbt_from_file, bool fc_from_file = true) {
  int bad = 0;
  for (const auto& [name, t] : slots) {
    std::string canon = albunet_alias_target(name).empty() ? name : albunet_alias_target(name);
    bool kept = (is_nbt(name) && !nbt_from_file) || (is_fc(name) && !fc_from_file);
    const Tensor& want = kept ? before.at(name) : src.tensors.at(canon);
    if (!same_tensor(*t, want) && bad++ < 5) MESSAGE("slot ", name, " does not hold the expected tensor");
  }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("state_dict: each model's alias rules match every '= canonical' line of its reference key list") {
  int aliases = 0;
  for (const std::string model : {"albunet", "resnet50", "scseunet"})
    for (const ReferenceKey& k : read_reference_keys(model)) {
      CHECK_MESSAGE(rename_prefix(rules_of(model).aliases, k.name) == k.alias_of, model, ": ", k.name);
      aliases += !k.alias_of.empty();
    }
  CHECK(aliases == 216);  // numbers.md: "462 (216, 72)"
}

TEST_CASE("state_dict: save then load round trip for the three models, keys in slot order") {
  for (const std::string model : {"albunet", "resnet50", "scseunet"}) {
    INFO(model);
    std::vector<ReferenceKey> keys = read_reference_keys(model);
    bool (*pick)(const ReferenceKey&) = model == "albunet" ? pleura_albunet : every_key;
    FakeModel a = make_fake_model(keys, 1, pick), b = make_fake_model(keys, 2, pick);
    LoadReport r;
    if (model == "albunet") {  // through a file; the others through the same bytes in memory
      std::string path = temp_path("state_dict_" + model + ".safetensors");
      save_state_dict(path, a.slots, {{"model", model}});
      std::map<std::string, std::string> meta;
      std::vector<NamedTensor> file = read_safetensors(path, &meta);
      CHECK(meta.at("model") == model);
      REQUIRE(file.size() == a.slots.size());
      for (size_t i = 0; i < file.size(); ++i) CHECK(file[i].name == a.slots[i].first);
      r = load_state_dict_file(b.slots, path, {.rules = rules_of(model)});
      std::remove(path.c_str());
    } else {
      std::vector<NamedTensor> file = parse_safetensors(format_safetensors(state_dict_of(a.slots)), model);
      for (size_t i = 0; i < file.size(); ++i) CHECK(file[i].name == a.slots[i].first);
      r = load_state_dict(b.slots, file, {.rules = rules_of(model)});
    }
    CHECK(r.ok());
    CHECK(r.loaded.size() == a.slots.size());
    check_loaded(b.slots, a, {}, true);
  }
}

TEST_CASE("state_dict: AlbuNet loads every variant the reference exports, into slots with or without aliases") {
  std::vector<ReferenceKey> keys = read_reference_keys("albunet");
  FakeModel src = make_fake_model(keys, 10, every_key);  // PyTorch's state_dict, 462 keys
  REQUIRE(src.slots.size() == 462);
  struct Variant {
    const char* name;
    bool aliases, fc, nbt, canonical_aliased;
  };
  const Variant variants[] = {{"full state_dict", true, true, true, true},
                              {"no aliases", false, true, true, true},
                              {"no encoder.fc", true, false, true, true},
                              {"no num_batches_tracked", true, true, false, true},
                              {"no aliases, fc or nbt", false, false, false, true},
                              {"aliases only, no canonical encoder keys", true, true, true, false}};
  for (bool pytorch_slots : {false, true}) {
    FakeModel dst = make_fake_model(keys, 20, pytorch_slots ? every_key : pleura_albunet);
    std::map<std::string, Tensor> before = snapshot(dst.slots);
    for (const Variant& v : variants) {
      INFO(v.name, pytorch_slots ? " into PyTorch-like slots" : " into Pleura slots");
      // Back to the initial values, so that no variant can pass on the previous one's.
      for (auto& [name, t] : dst.tensors) t.copy_from(before.at(name));
      LoadOptions opt;
      opt.file_name = v.name;
      opt.rules = rules_of("albunet");
      LoadReport r = load_state_dict(dst.slots, export_of(src, v.aliases, v.fc, v.nbt, v.canonical_aliased), opt);
      CHECK(r.ok());
      check_loaded(dst.slots, src, before, v.nbt, v.fc);
      // Pleura slots: 244 canonical (216 aliases, 2 classifier keys dropped); num_batches_tracked
      // (36 in AlbuNet's encoder) kept when absent.
      size_t expect_loaded = (pytorch_slots ? 246 : 244) - (v.nbt ? 0 : 36) - (pytorch_slots && !v.fc ? 2 : 0);
      CHECK(r.loaded.size() == expect_loaded);
    }
  }
}

TEST_CASE("state_dict: one error lists every missing, unexpected, wrong-shaped and conflicting key, and nothing loads") {
  std::vector<ReferenceKey> keys = read_reference_keys("albunet");
  FakeModel src = make_fake_model(keys, 3, every_key), dst = make_fake_model(keys, 4, pleura_albunet);
  std::vector<NamedTensor> file = export_of(src, true, true, true);
  std::vector<NamedTensor> broken;
  for (const NamedTensor& nt : file) {
    if (nt.name == "dec3.block.1.conv.bias" || nt.name == "center.block.1.conv.weight") continue;  // missing
    if (nt.name == "final.weight") {
      broken.push_back({nt.name, Tensor::zeros({1, 16, 1, 1})});  // wrong shape
    } else if (nt.name == "dec0.conv.bias") {
      broken.push_back({nt.name, Tensor::zeros({32}, DType::kInt64)});  // int64 where float32 belongs
    } else if (nt.name == "conv3.1.conv2.weight") {
      broken.push_back({nt.name, nt.tensor.clone().view({nt.tensor.numel()})});  // alias differs in shape
    } else {
      broken.push_back(nt);
    }
  }
  broken.push_back({"decoder.extra.weight", Tensor::ones({2})});
  broken.push_back({"conv9.0.weight", Tensor::ones({2})});
  std::map<std::string, Tensor> before = snapshot(dst.slots);
  LoadOptions opt;
  opt.file_name = "broken.safetensors";
  opt.rules = rules_of("albunet");
  expect_error([&] { load_state_dict(dst.slots, broken, opt); },
               {"[load_state_dict] broken.safetensors does not match the model", "2 missing, 2 unexpected",
                "2 wrong shape or dtype", "1 alias conflicts", "nothing was loaded", "dec3.block.1.conv.bias",
                "center.block.1.conv.weight", "decoder.extra.weight", "conv9.0.weight",
                "final.weight: file float32[1, 16, 1, 1] vs model float32[1, 32, 1, 1]",
                "dec0.conv.bias: file int64[32] vs model float32[32]",
                "conv3.1.conv2.weight differs from its canonical key encoder.layer2.1.conv2.weight"});
  for (const auto& [name, t] : dst.slots) CHECK_MESSAGE(same_tensor(*t, before.at(name)), name, " changed");

  // Not strict: what matches is loaded, the rest is reported.
  opt.strict = false;
  LoadReport r = load_state_dict(dst.slots, broken, opt);
  CHECK(!r.ok());
  CHECK(r.missing == std::vector<std::string>{"center.block.1.conv.weight", "dec3.block.1.conv.bias"});
  CHECK(r.unexpected == std::vector<std::string>{"decoder.extra.weight", "conv9.0.weight"});
  CHECK(r.mismatched.size() == 2);
  CHECK(r.conflicts.size() == 1);
  CHECK(same_tensor(*dst.slots[0].second, src.tensors.at(dst.slots[0].first)));
  CHECK(same_tensor(dst.tensors.at("final.weight"), before.at("final.weight")));
  CHECK(same_tensor(dst.tensors.at("dec3.block.1.conv.bias"), before.at("dec3.block.1.conv.bias")));
  CHECK(r.summary().find("2 missing, 2 unexpected, 2 mismatched, 1 alias conflicts") != std::string::npos);
}

TEST_CASE("state_dict: a file of another model is named as such") {
  FakeModel a = make_fake_model(read_reference_keys("albunet"), 5);
  FakeModel b = make_fake_model(read_reference_keys("resnet50"), 6);
  expect_error([&] { load_state_dict(b.slots, state_dict_of(a.slots)); },
               {"no key of the file fits the model", "load_pretrained_encoder"});
}

TEST_CASE("state_dict: float64 files convert to the slot dtype, bad slots and duplicate keys are refused") {
  Tensor w = Tensor::zeros({2, 2}), n = Tensor::from_vector({4}, {}, DType::kInt64);
  Slots slots = {{"w", &w}, {"bn.num_batches_tracked", &n}};
  load_state_dict(slots, {{"w", Tensor::from_vector({0.1, 0.2, 0.3, 0.4}, {2, 2}, DType::kFloat64)},
                          {"bn.num_batches_tracked", Tensor::from_vector({9}, {}, DType::kInt64)}});
  CHECK(w.dtype() == DType::kFloat32);
  CHECK(w.to_vector() == std::vector<double>{0.1f, 0.2f, 0.3f, 0.4f});  // rounded to float32
  CHECK(n.item() == 9);

  Tensor undefined;
  expect_error([&] { load_state_dict({{"w", &w}, {"w", &w}}, {}); }, {"slot 'w' is listed twice"});
  expect_error([&] { load_state_dict({{"u", &undefined}}, {}); }, {"slot 'u' holds no tensor"});
  expect_error([&] { load_state_dict({{"w", &w}}, {{"w", w}, {"w", w}}); }, {"key 'w' appears twice"});
  expect_error([&] { state_dict_of({{"u", nullptr}}); }, {"slot 'u' holds no tensor"});
  // num_batches_tracked of a BatchNorm the model keeps without that buffer: ignored.
  Tensor mean = Tensor::zeros({2});
  LoadReport r = load_state_dict({{"bn.running_mean", &mean}}, {{"bn.running_mean", Tensor::ones({2})},
                                                                {"bn.num_batches_tracked", n}});
  CHECK(r.ok());
  CHECK(r.ignored.size() == 1);
  CHECK(mean.to_vector() == std::vector<double>{1, 1});
}

TEST_CASE("state_dict: CUDA slots keep their device, state_dict_of copies to the host" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  Device gpu = Device::cuda(0);
  Tensor w = Tensor::zeros({3, 4}, DType::kFloat32, gpu), n = Tensor::zeros({}, DType::kInt64, gpu);
  Slots slots = {{"w", &w}, {"bn.num_batches_tracked", &n}};
  Tensor src = random_tensor({3, 4}, 8, DType::kFloat64);
  load_state_dict(slots, {{"w", src}, {"bn.num_batches_tracked", Tensor::from_vector({12}, {}, DType::kInt64)}});
  CHECK(w.device() == gpu);
  CHECK(same_tensor(w, src.to(DType::kFloat32)));
  CHECK(n.item() == 12);
  std::vector<NamedTensor> sd = state_dict_of(slots);
  CHECK(sd[0].tensor.device().is_cpu());
  CHECK(same_tensor(sd[0].tensor, src.to(DType::kFloat32)));
}

TEST_CASE("state_dict: rules worked by hand: an alias prefix, an optional key, and the same file without rules") {
  // A model whose module "body" PyTorch also registers as "trunk", with an optional "head.w".
  const StateDictRules rules{.aliases = {{"trunk.", "body."}}, .optional = {{"head.w", "an unused head"}}};
  CHECK(rename_prefix(rules.aliases, "trunk.0.weight") == "body.0.weight");
  CHECK(rename_prefix(rules.aliases, "body.0.weight") == "");
  CHECK(rename_prefix({{"a.", "x."}, {"a.b.", "y."}}, "a.b.c") == "x.b.c");  // the first rule that fits wins
  Tensor w = Tensor::zeros({2}), head = Tensor::zeros({1});
  const Tensor w_file = Tensor::from_vector({0.5, -1.5}, {2});
  // Only the alias in the file: it loads its canonical slot; the optional key is absent and kept.
  LoadReport r = load_state_dict({{"body.0.weight", &w}, {"head.w", &head}}, {{"trunk.0.weight", w_file}},
                                 {.rules = rules});
  CHECK(r.ok());
  CHECK(w.to_vector() == std::vector<double>{0.5, -1.5});
  CHECK(r.loaded == std::vector<std::string>{"body.0.weight (from trunk.0.weight)"});
  CHECK(r.kept == std::vector<std::string>{"head.w"});
  // The optional key in the file of a model without it: ignored, with the reason.
  r = load_state_dict({{"body.0.weight", &w}}, {{"body.0.weight", w_file}, {"head.w", Tensor::ones({1})}},
                      {.rules = rules});
  CHECK(r.ignored == std::vector<std::string>{"head.w (an unused head)"});
  // Without the rules both keys are strangers.
  expect_error([&] { load_state_dict({{"body.0.weight", &w}}, {{"trunk.0.weight", w_file}, {"head.w", w_file}}); },
               {"1 missing, 2 unexpected", "trunk.0.weight", "head.w"});
}

TEST_CASE("state_dict: without AlbuNet's rules its reference export does not load (the rules are what make it fit)") {
  std::vector<ReferenceKey> keys = read_reference_keys("albunet");
  FakeModel src = make_fake_model(keys, 30, every_key), dst = make_fake_model(keys, 31, pleura_albunet);
  LoadOptions opt;
  opt.strict = false;
  LoadReport r = load_state_dict(dst.slots, export_of(src, true, true, true), opt);
  CHECK(r.unexpected.size() == 216 + 2);  // every alias and the classifier
  opt.rules = rules_of("albunet");
  CHECK(load_state_dict(dst.slots, export_of(src, true, true, true), opt).ok());
}
