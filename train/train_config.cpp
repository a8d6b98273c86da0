// load_train_config and the [run], [data], [folds], [model], [init], [sampler], [loss], [optimizer],
// [train] and [checkpoints] sections (header train/train_config.h); the other sections are read in
// train/train_config_sections.cpp. Tests: tests/train/test_train_config.cpp.
#include "train/train_config.h"

#include <charconv>
#include <filesystem>
#include <set>

#include "engine/error.h"
#include "engine/file_io.h"
#include "models/registry.h"
#include "train/ini.h"
#include "train/train_config_sections.h"

namespace fs = std::filesystem;

namespace pleura {

namespace {

std::string file_must_exist(const ConfigReader& r, const std::string& s, const std::string& k) {
  const std::string path = r.ini.get_string(s, k);
  PLEURA_CHECK(!path.empty(), r.where(s, k), ": empty path");
  require_file(path, cat(r.where(s, k), ": file"));
  return path;
}
std::string folder_must_exist(const ConfigReader& r, const std::string& s, const std::string& k) {
  const std::string path = r.ini.get_string(s, k);
  PLEURA_CHECK(!path.empty(), r.where(s, k), ": empty path");
  require_folder(path, cat(r.where(s, k), ": folder"));
  return path;
}
// A file or folder name inside the output folder: no separators, no "..". Without a fallback the key is
// required (a missing key is named as missing, not as an invalid value).
std::string checked_plain_name(const ConfigReader& r, const std::string& s, const std::string& k, const std::string& v) {
  PLEURA_CHECK(!v.empty() && v != "." && v != ".." && v.find('/') == std::string::npos &&
                   v.find('\\') == std::string::npos,
               r.where(s, k), ": '", v, "' must be a plain name (no '/', not '.' or '..')");
  return v;
}
std::string plain_name(const ConfigReader& r, const std::string& s, const std::string& k) {
  return checked_plain_name(r, s, k, r.ini.get_string(s, k));
}
std::string plain_name(const ConfigReader& r, const std::string& s, const std::string& k, const std::string& fallback) {
  return checked_plain_name(r, s, k, r.ini.get_string(s, k, fallback));
}

void read_run(const ConfigReader& r, TrainConfig& c) {
  c.pipeline = plain_name(r, "run", "pipeline");
  c.output = r.ini.get_string("run", "output");
  PLEURA_CHECK(!c.output.empty(), r.where("run", "output"), ": empty path");
  c.log_dir = plain_name(r, "run", "log_dir", c.log_dir);
  c.seed = static_cast<uint64_t>(r.int_in("run", "seed", 42, 0, INT64_MAX));
  const std::string device = r.ini.get_string("run", "device", "cpu");
  try {
    c.device = Device::parse(device);
  } catch (const Error& e) {
    throw_error(cat(r.where("run", "device"), ": ", e.what()));
  }
  c.workers = static_cast<int>(r.int_in("run", "workers", c.workers, 0, 256));
  c.log_every = r.int_in("run", "log_every", c.log_every, 0, 1000000);
  c.cuda_graphs = r.ini.get_bool("run", "cuda_graphs", false);
  c.cudnn_algorithms = parse_conv_algorithm_choice(r.ini.get_string("run", "cudnn_algorithms", "measured"),
                                                   r.where("run", "cudnn_algorithms"));
  PLEURA_CHECK(!c.cuda_graphs || c.device.is_cuda(), r.where("run", "cuda_graphs"),
               ": CUDA graphs need device = cuda (the device is ", c.device.str(), ")");
}

void read_data(const ConfigReader& r, TrainConfig& c) {
  if (r.ini.has("data", "cache")) {
    c.cache = folder_must_exist(r, "data", "cache");
    PLEURA_CHECK(!r.ini.has("data", "images") && !r.ini.has("data", "labels"), r.where("data", "cache"),
                 ": give either cache or images + labels, not both");
    PLEURA_CHECK(fs::is_directory(c.cache + "/images"), r.where("data", "cache"), ": '", c.cache,
                 "' is not a prepared cache (no images/ folder; make one with tools/prepare_data)");
  } else {
    PLEURA_CHECK(r.ini.has("data", "images") || r.ini.has("data", "labels"), r.ini.file_name(),
                 ": [data] needs either cache (a prepared cache) or images + labels (a DICOM tree and its RLE CSV)");
    c.images = folder_must_exist(r, "data", "images");
    c.labels = file_must_exist(r, "data", "labels");
  }
  c.size = r.int_in("data", "size", kRequiredInt, 1, 16384);
  const std::string norm = r.ini.get_string("data", "normalization", "unit");
  try {
    c.normalization = augment::parse_normalization(norm);
  } catch (const Error& e) {
    throw_error(cat(r.where("data", "normalization"), ": '", norm, "': expected unit or imagenet"));
  }
}

void read_folds(const ConfigReader& r, TrainConfig& c) {
  c.folds_file = file_must_exist(r, "folds", "file");
  c.folds_number = static_cast<int>(r.int_in("folds", "number", 0, 1, 1000));
  if (r.ini.has("folds", "use")) {
    std::set<int> seen;
    for (int64_t f : r.ini.get_ints("folds", "use")) {
      PLEURA_CHECK(f >= 0 && f < 1000, r.where("folds", "use"), ": fold ", f, " out of range");
      PLEURA_CHECK(c.folds_number == 0 || f < c.folds_number, r.where("folds", "use"), ": fold ", f,
                   " but [folds] number = ", c.folds_number);
      PLEURA_CHECK(seen.insert(static_cast<int>(f)).second, r.where("folds", "use"), ": fold ", f, " listed twice");
      c.folds_use.push_back(static_cast<int>(f));
    }
  }
}

void read_model(const ConfigReader& r, TrainConfig& c) {
  c.model = r.ini.get_string("model", "name");
  const ModelSpec* spec = find_model(c.model);
  PLEURA_CHECK(spec != nullptr, r.where("model", "name"), ": unknown model '", c.model, "' (known: ", known_models(),
               ")");
  PLEURA_CHECK(c.size % spec->input_multiple == 0, r.where("data", "size"), ": ", c.size, " is not a multiple of ",
               spec->input_multiple, ", which ", c.model, " needs");
  if (r.ini.has("model", "pretrained_encoder") && !r.ini.get_string("model", "pretrained_encoder").empty())
    c.pretrained_encoder = file_must_exist(r, "model", "pretrained_encoder");
  c.freeze_encoder_epochs = r.int_in("model", "freeze_encoder_epochs", 0, 0, 1000000);
  c.validate_only = r.ini.get_bool("model", "validate_only", false);

  if (r.ini.has_section("init")) {
    c.init_folder = r.ini.get_string("init", "folder");
    c.init_pipeline = plain_name(r, "init", "pipeline");
    PLEURA_CHECK(!c.init_folder.empty(), r.where("init", "folder"), ": empty path");
  }
}

void read_sampler(const ConfigReader& r, TrainConfig& c) {
  c.use_sampler = r.ini.get_bool("sampler", "enabled", true);
  const bool fixed = r.ini.has("sampler", "rate");
  const bool sliding = r.ini.has("sampler", "rate_start") || r.ini.has("sampler", "rate_end");
  PLEURA_CHECK(!(fixed && sliding), r.where("sampler", "rate"), ": give rate or rate_start + rate_end, not both");
  if (sliding) {
    c.rate_start = r.double_in("sampler", "rate_start", kRequiredDouble, 0.0, 1.0, /*open_low=*/true);
    c.rate_end = r.double_in("sampler", "rate_end", kRequiredDouble, 0.0, 1.0, true);
  } else {
    c.rate_start = c.rate_end = r.double_in("sampler", "rate", 0.8, 0.0, 1.0, true);
  }
}

void read_optimisation(const ConfigReader& r, TrainConfig& c) {
  c.loss.w_bce = r.double_in("loss", "bce", 3.0, 0.0, 1e6);
  c.loss.w_dice = r.double_in("loss", "dice", 1.0, 0.0, 1e6);
  c.loss.w_focal = r.double_in("loss", "focal", 4.0, 0.0, 1e6);
  PLEURA_CHECK(c.loss.w_bce + c.loss.w_dice + c.loss.w_focal > 0, r.ini.file_name(),
               ": [loss] every weight is 0");

  const std::string type = r.ini.get_string("optimizer", "type", "adam");
  PLEURA_CHECK(type == "adam", r.where("optimizer", "type"), ": '", type,
               "': only adam (Adam with coupled weight decay, as the solution) is offered");
  c.lr = r.double_in("optimizer", "lr", c.lr, 0.0, 10.0, true);
  c.weight_decay = r.double_in("optimizer", "weight_decay", c.weight_decay, 0.0, 10.0);

  c.epochs = r.int_in("train", "epochs", c.epochs, 1, 1000000);
  c.batch_size = r.int_in("train", "batch_size", c.batch_size, 1, 100000);
  c.grad_accum = r.int_in("train", "grad_accum", c.grad_accum, 1, 100000);
  c.grad_clip = r.double_in("train", "grad_clip", c.grad_clip, 0.0, 1e12);
  c.early_stopping = r.int_in("train", "early_stopping", c.early_stopping, 0, 1000000);
  c.max_nonfinite_steps = r.int_in("train", "max_nonfinite_steps", c.max_nonfinite_steps, 1, 1000000);
  c.sync_bn = r.ini.get_bool("train", "sync_bn", false);
  c.precision = parse_precision(r.ini.get_string("train", "precision", "fp32"), r.where("train", "precision"));

  c.full_folder = plain_name(r, "checkpoints", "full_folder", c.full_folder);
  c.best_folder = plain_name(r, "checkpoints", "best_folder", c.best_folder);
  c.topk = r.int_in("checkpoints", "topk", c.topk, 0, 100000);
}

}  // namespace

const char* scheduler_type_name(SchedulerType type) {
  switch (type) {
    case SchedulerType::kPlateau: return "plateau";
    case SchedulerType::kCosine: return "cosine";
    case SchedulerType::kWarmRestarts: return "warm_restarts";
  }
  return "?";
}

int64_t default_log_interval(Device device) { return device.is_cuda() ? 20 : 1; }

int64_t log_interval(const TrainConfig& config) {
  return config.log_every > 0 ? config.log_every : default_log_interval(config.device);
}

std::string TrainConfig::where(const std::string& section_key) const {
  auto it = origin.find(section_key);
  return it != origin.end() ? it->second : cat(file, ": [", section_key, "]");
}

TrainConfig parse_train_config(const std::string& text, const std::string& name,
                               const std::vector<std::string>& overrides) {
  IniFile ini = IniFile::parse(text, name);
  for (const std::string& o : overrides) ini.set_override(o);
  ConfigReader r{ini};
  TrainConfig c;
  c.file = name;
  read_run(r, c);
  read_data(r, c);
  read_folds(r, c);
  read_model(r, c);
  read_sampler(r, c);
  read_augment(r, c);
  read_optimisation(r, c);
  read_scheduler(r, c);
  read_validation(r, c);
  // A graph holds one batch's work: a grad_accum window's batches differ (only the last steps).
  PLEURA_CHECK(!c.cuda_graphs || c.grad_accum == 1, r.where("run", "cuda_graphs"),
               ": CUDA graphs need grad_accum = 1 (it is ", c.grad_accum, ")");
  ini.check_all_used();
  c.origin = r.origins();
  return c;
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  require_file(path, "config file");
  return parse_train_config(read_file(path), path, overrides);
}

}  // namespace pleura
