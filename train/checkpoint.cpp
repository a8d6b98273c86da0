// Weights and resumable training state as safetensors files (train/checkpoint.h).
// Tests: tests/train/test_checkpoint.cpp.
#include "train/checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/state_dict.h"

namespace pleura {

namespace {

constexpr const char* kStateFormat = "pleura-training-state";
constexpr const char* kStateVersion = "1";

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);  // reads back to the same double (inf and nan as words)
  return buf;
}

struct MetaReader {
  const std::map<std::string, std::string>& meta;
  const std::string& path;
  const std::string& text(const std::string& key) const {
    auto it = meta.find(key);
    PLEURA_CHECK(it != meta.end(), "[checkpoint] ", path, ": training state lacks '", key, "'");
    return it->second;
  }
  double number(const std::string& key) const {
    const std::string& t = text(key);
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    PLEURA_CHECK(!t.empty() && *end == '\0', "[checkpoint] ", path, ": '", key, "' = '", t, "' is not a number");
    return v;
  }
  int64_t integer(const std::string& key) const {
    const std::string& t = text(key);
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    PLEURA_CHECK(!t.empty() && *end == '\0', "[checkpoint] ", path, ": '", key, "' = '", t, "' is not an integer");
    return v;
  }
  bool flag(const std::string& key) const { return integer(key) != 0; }
};

std::map<std::string, std::string> state_metadata(const TrainingState& s) {
  std::map<std::string, std::string> m = {
      {"format", kStateFormat},
      {"version", kStateVersion},
      {"config_hash", s.config_hash},
      {"pipeline", s.pipeline},
      {"fold", std::to_string(s.fold)},
      {"epoch", std::to_string(s.epoch)},
      {"batch", std::to_string(s.batch)},
      {"training_done", s.training_done ? "1" : "0"},
      {"finished", s.finished ? "1" : "0"},
      {"loss_sum", exact(s.loss_sum)},
      {"loss_count", std::to_string(s.loss_count)},
      {"epoch_seconds", exact(s.epoch_seconds)},
      {"wait_seconds", exact(s.wait_seconds)},
      {"best_score", exact(s.best_score)},
      {"best_epoch", std::to_string(s.best_epoch)},
      {"lr", exact(s.lr)},
      {"summary_rows", std::to_string(s.summary_rows)},
      {"metrics_rows", std::to_string(s.metrics_rows)},
      {"nonfinite_in_a_row", std::to_string(s.nonfinite_in_a_row)},
      {"nonfinite_total", std::to_string(s.nonfinite_total)},
      {"world_size", std::to_string(s.world_size)},
      {"topk.count", std::to_string(s.topk.size())},
  };
  for (size_t i = 0; i < s.topk.size(); ++i) {
    const std::string k = "topk." + std::to_string(i) + ".";
    m[k + "score"] = exact(s.topk[i].score);
    m[k + "epoch"] = std::to_string(s.topk[i].epoch);
    m[k + "path"] = s.topk[i].path;
  }
  for (const auto& [key, value] : s.scheduler) m["scheduler." + key] = exact(value);
  return m;
}

TrainingState parse_state_metadata(const std::map<std::string, std::string>& meta, const std::string& path) {
  MetaReader r{meta, path};
  PLEURA_CHECK(meta.count("format") && meta.at("format") == kStateFormat, "[checkpoint] ", path,
               " is not a training state file (its __metadata__ lacks format = ", kStateFormat, ")");
  PLEURA_CHECK(r.text("version") == kStateVersion, "[checkpoint] ", path, ": training state version ",
               r.text("version"), ", this program reads version ", kStateVersion);
  TrainingState s;
  s.config_hash = r.text("config_hash");
  s.pipeline = r.text("pipeline");
  s.fold = static_cast<int>(r.integer("fold"));
  s.epoch = r.integer("epoch");
  s.batch = r.integer("batch");
  s.training_done = r.flag("training_done");
  s.finished = r.flag("finished");
  s.loss_sum = r.number("loss_sum");
  s.loss_count = r.integer("loss_count");
  s.epoch_seconds = r.number("epoch_seconds");
  s.wait_seconds = r.number("wait_seconds");
  s.best_score = r.number("best_score");
  s.best_epoch = r.integer("best_epoch");
  s.lr = r.number("lr");
  s.summary_rows = r.integer("summary_rows");
  s.metrics_rows = r.integer("metrics_rows");
  // Absent from states written before non-finite steps were counted: none had been skipped.
  if (meta.count("nonfinite_total")) {
    s.nonfinite_in_a_row = r.integer("nonfinite_in_a_row");
    s.nonfinite_total = r.integer("nonfinite_total");
  }
  // Absent from states written before data-parallel training: one process.
  if (meta.count("world_size")) s.world_size = static_cast<int>(r.integer("world_size"));
  const int64_t n = r.integer("topk.count");
  PLEURA_CHECK(n >= 0 && n < 1000000, "[checkpoint] ", path, ": topk.count = ", n);
  for (int64_t i = 0; i < n; ++i) {
    const std::string k = "topk." + std::to_string(i) + ".";
    s.topk.push_back({r.number(k + "score"), r.integer(k + "epoch"), r.text(k + "path")});
  }
  for (const auto& [key, value] : meta)
    if (key.rfind("scheduler.", 0) == 0) s.scheduler[key.substr(10)] = r.number(key);
  return s;
}

Device device_of(Module& model) {
  std::vector<Tensor*> params = model.parameters();
  return params.empty() ? Device::cpu() : params.front()->device();
}

}  // namespace

void save_weights(const std::string& path, Module& model, const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta = metadata;
  meta["format"] = "pt";  // what PyTorch's safetensors.torch.save_file writes
  save_state_dict(path, model.state_dict_slots(), meta);
}

std::string load_weights(const std::string& path, Module& model, const StateDictRules& rules) {
  LoadOptions opt;
  opt.rules = rules;
  LoadReport report = load_state_dict_file(model.state_dict_slots(), path, opt);
  return report.summary();
}

void save_training_state(const std::string& path, const TrainingState& state, Module& model, Adam& adam) {
  NoGradGuard no_grad;
  std::vector<NamedTensor> tensors;
  for (NamedTensor& t : state_dict_of(model.state_dict_slots())) tensors.push_back({"model." + t.name, t.tensor});
  const NamedSlots params = model.named_parameters();
  PLEURA_CHECK(params.size() == adam.params().size(), "[checkpoint] the optimizer holds ", adam.params().size(),
               " parameters, the model ", params.size());
  std::vector<double> steps;
  for (size_t i = 0; i < params.size(); ++i) {
    PLEURA_CHECK(params[i].second == adam.params()[i], "[checkpoint] optimizer parameter ", i,
                 " is not the model's ", params[i].first);
    const Adam::ParamState& st = adam.state()[i];
    steps.push_back(st.exp_avg.defined() ? static_cast<double>(st.step) : -1.0);
    if (st.exp_avg.defined()) {
      tensors.push_back({"adam.exp_avg." + params[i].first, st.exp_avg});
      tensors.push_back({"adam.exp_avg_sq." + params[i].first, st.exp_avg_sq});
    }
    Tensor g = params[i].second->grad();
    if (g.defined()) tensors.push_back({"grad." + params[i].first, g});
  }
  tensors.push_back({"adam.step", Tensor::from_vector(steps, Shape{static_cast<int64_t>(steps.size())},
                                                      DType::kInt64)});
  write_safetensors(path, tensors, state_metadata(state));
}

TrainingState load_training_state(const std::string& path, Module& model, Adam& adam) {
  NoGradGuard no_grad;
  std::map<std::string, std::string> meta;
  std::vector<NamedTensor> file = read_safetensors(path, &meta);
  TrainingState state = parse_state_metadata(meta, path);
  std::unordered_map<std::string, Tensor> by_name;
  std::vector<NamedTensor> weights;
  for (NamedTensor& t : file) {
    if (t.name.rfind("model.", 0) == 0) {
      weights.push_back({t.name.substr(6), t.tensor});
    } else {
      by_name[t.name] = t.tensor;
    }
  }
  LoadOptions opt;
  opt.file_name = path;
  load_state_dict(model.state_dict_slots(), weights, opt);  // strict: throws listing every problem

  const NamedSlots params = model.named_parameters();
  PLEURA_CHECK(params.size() == adam.params().size(), "[checkpoint] the optimizer holds ", adam.params().size(),
               " parameters, the model ", params.size());
  auto step_it = by_name.find("adam.step");
  PLEURA_CHECK(step_it != by_name.end() && step_it->second.numel() == static_cast<int64_t>(params.size()),
               "[checkpoint] ", path, ": adam.step missing or not one entry per parameter (", params.size(), ")");
  const std::vector<double> steps = step_it->second.to_vector();
  by_name.erase(step_it);
  const Device device = device_of(model);
  auto take = [&](const std::string& name, const Tensor& like) {
    auto it = by_name.find(name);
    PLEURA_CHECK(it != by_name.end(), "[checkpoint] ", path, " lacks ", name);
    PLEURA_CHECK(it->second.shape() == like.shape() && it->second.dtype() == like.dtype(), "[checkpoint] ", path,
                 ": ", name, " is ", describe(it->second), ", the model's parameter ", describe(like));
    Tensor t = it->second.to(device);
    by_name.erase(it);
    return t;
  };
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& name = params[i].first;
    Tensor& p = *params[i].second;
    Adam::ParamState& st = adam.state()[i];
    st = Adam::ParamState{};
    if (steps[i] >= 0) {
      st.exp_avg = take("adam.exp_avg." + name, p);
      st.exp_avg_sq = take("adam.exp_avg_sq." + name, p);
      st.step = static_cast<int64_t>(steps[i]);
    }
    p.zero_grad();
    if (by_name.count("grad." + name)) p.impl().grad = take("grad." + name, p).impl_ptr();
  }
  if (!by_name.empty()) {
    std::string extra;
    for (const auto& kv : by_name) extra += (extra.empty() ? "" : ", ") + kv.first;
    throw_error(cat("[checkpoint] ", path, ": tensors that fit no parameter of the model: ", extra));
  }
  return state;
}

TrainingState peek_training_state(const std::string& path) {
  std::map<std::string, std::string> meta;
  read_safetensors(path, &meta);
  return parse_state_metadata(meta, path);
}

}  // namespace pleura
