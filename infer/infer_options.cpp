// infer_unet's settings from flags or from an INI file (see infer_options.h).
#include "infer/infer_options.h"

#include <filesystem>
#include <set>

#include "engine/error.h"
#include "models/registry.h"
#include "data/csv.h"
#include "data/image_io.h"
#include "data/jobs.h"
#include "train/ini.h"

namespace fs = std::filesystem;

namespace pleura::infer {
namespace {

using data::UsageError;

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  for (std::string_view f : data::split_fields(text)) items.emplace_back(data::trim(f));
  return items;
}

// Runs `fn`; a pleura::Error it throws becomes a UsageError with the same message.
template <class Fn>
auto as_usage(Fn&& fn) {
  try {
    return fn();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

}  // namespace

void check_model_and_size(const std::string& model, int64_t size) {
  // Throws for an unknown name, listing the known ones.
  const int64_t multiple = model_spec(model, "make_model").input_multiple;
  PLEURA_CHECK(size >= multiple && size <= data::kMaxImageSide && size % multiple == 0, "size ", size,
               " does not suit ", model, ": expected a multiple of ", multiple, " (", multiple, "..",
               data::kMaxImageSide, ")");
}

std::vector<int64_t> parse_index_list(const std::string& what, const std::string& text) {
  std::vector<int64_t> out;
  std::set<int64_t> seen;
  for (const std::string& item : split_commas(text)) {
    int64_t v = 0;
    PLEURA_CHECK(data::parse_nonnegative(item, int64_t{1} << 40, v), what, ": '", item, "' in '", text,
                 "' is not a non-negative integer");
    PLEURA_CHECK(seen.insert(v).second, what, ": ", v, " is listed twice in '", text, "'");
    out.push_back(v);
  }
  return out;
}

std::pair<int64_t, std::vector<int64_t>> parse_fold_epochs(const std::string& what, const std::string& text) {
  const size_t colon = text.find(':');
  PLEURA_CHECK(colon != std::string::npos, what, ": '", text, "' is not FOLD:EPOCH[,EPOCH...] (e.g. 0:7,13,17)");
  int64_t fold = 0;
  const std::string fold_text(data::trim(std::string_view(text).substr(0, colon)));
  PLEURA_CHECK(data::parse_nonnegative(fold_text, int64_t{1} << 40, fold), what, ": fold '", fold_text, "' in '",
               text, "' is not a non-negative integer");
  return {fold, parse_index_list(cat(what, " (fold ", fold, ")"), text.substr(colon + 1))};
}

void add_infer_flags(data::ArgParser& p) {
  p.add_value("model", "NAME", "albunet, resnet50_unet or scse_unet", true);
  p.add_repeated("weights", "FILE[,FILE...]", "checkpoint files (.safetensors state dicts), averaged in this order");
  p.add_value("pipeline", "DIR", "instead of --weights: a train_unet output folder (the YAML's PIPELINE_PATH)");
  p.add_value("pipeline-name", "NAME", "with --pipeline: the checkpoints' prefix (PIPELINE_NAME)");
  p.add_flag("best", "with --pipeline: each fold's best checkpoint, <best-folder>/<name>_fold<k>.safetensors");
  p.add_value("top-k", "K", "with --pipeline: each fold's K best epochs by summary.csv whose files exist");
  p.add_repeated("epochs", "FOLD:E[,E...]", "with --pipeline: these epochs of this fold (SELECTED_CHECKPOINTS)");
  p.add_value("folds", "K[,K...]", "with --best or --top-k: the folds, in order (USEFOLDS)");
  p.add_value("best-folder", "DIR", "with --best: folder under --pipeline (default checkpoints)");
  p.add_value("full-folder", "DIR", "with --top-k / --epochs: folder under --pipeline (default checkpoints)");
  p.add_value("input", "DIR", "a DICOM tree, a folder of PNG/JPEG files, or a prepare_data cache", true);
  p.add_value("output", "DIR", "folder for the maps <ImageId>.npy / .png", true);
  p.add_value("size", "N", "input side after the resize (cv2 INTER_LINEAR); maps are N x N", true);
  p.add_flag("flip", "horizontal-flip TTA: the mean of p and the un-flipped p of the flipped image");
  p.add_value("norm", "NORM", "unit (x/255, the *_old transforms; default) or imagenet");
  p.add_value("format", "FMT", "npy (float32, exact; default) or png (8-bit, round(p*255))");
  p.add_value("device", "DEV", "cpu (default), cuda or cuda:N");
  p.add_value("batch", "N", "images per forward pass (default 2)");
  p.add_value("workers", "N", "threads reading images and writing maps (default: all hardware threads)");
  p.add_flag("resume", "continue an interrupted run: skip images whose map exists (same settings required)");
}

InferOptions infer_options_from_flags(const data::ArgParser& p) {
  InferOptions o;
  o.model = p.value("model");
  o.input = p.value("input");
  o.output = p.value("output");
  o.size = p.int_value("size", 1, data::kMaxImageSide, 0);
  o.flip = p.has("flip");
  o.norm = as_usage([&] { return augment::parse_normalization(p.value("norm", "unit")); });
  o.format = as_usage([&] { return parse_map_format(p.value("format", "npy")); });
  o.device = as_usage([&] { return Device::parse(p.value("device", "cpu")); });
  o.batch = p.int_value("batch", 1, 4096, 2);
  o.workers = static_cast<int>(p.int_value("workers", 1, 1024, data::default_job_threads()));
  o.resume = p.has("resume");
  as_usage([&] {
    check_model_and_size(o.model, o.size);
    return 0;
  });

  const bool pipeline = p.has("pipeline");
  if (p.has("weights") == pipeline) throw UsageError("give either --weights or --pipeline (exactly one)");
  if (!pipeline) {
    for (const char* name : {"pipeline-name", "best", "top-k", "epochs", "folds", "best-folder", "full-folder"})
      if (p.has(name)) throw UsageError(cat("option --", name, " needs --pipeline"));
    for (const std::string& list : p.values("weights"))
      for (const std::string& file : split_commas(list)) {
        if (file.empty()) throw UsageError(cat("option --weights: empty file name in '", list, "'"));
        if (!fs::is_regular_file(file)) throw UsageError(cat("--weights '", file, "' does not exist or is not a file"));
        o.weights.push_back(file);
      }
  } else {
    PipelineSelection s;
    s.path = p.value("pipeline");
    if (!p.has("pipeline-name")) throw UsageError("option --pipeline needs --pipeline-name");
    s.name = p.value("pipeline-name");
    const int modes = int(p.has("best")) + int(p.has("top-k")) + int(p.has("epochs"));
    if (modes != 1) throw UsageError("option --pipeline needs exactly one of --best, --top-k K, --epochs FOLD:E,...");
    if (p.has("epochs")) {
      s.selection = Selection::kEpochs;
      if (p.has("folds")) throw UsageError("option --folds goes with --best or --top-k (--epochs names its folds)");
      if (p.has("best-folder")) throw UsageError("option --best-folder goes with --best");
      std::set<int64_t> folds;
      for (const std::string& text : p.values("epochs")) {
        s.epochs.push_back(as_usage([&] { return parse_fold_epochs("option --epochs", text); }));
        if (!folds.insert(s.epochs.back().first).second)
          throw UsageError(cat("option --epochs: fold ", s.epochs.back().first, " given twice"));
      }
    } else {
      s.selection = p.has("best") ? Selection::kBest : Selection::kTopK;
      if (!p.has("folds")) throw UsageError(cat("option --", p.has("best") ? "best" : "top-k", " needs --folds"));
      s.folds = as_usage([&] { return parse_index_list("option --folds", p.value("folds")); });
      if (s.selection == Selection::kTopK) {
        s.top_k = p.int_value("top-k", 1, 1000, 0);
        if (p.has("best-folder")) throw UsageError("option --best-folder goes with --best");
      } else if (p.has("full-folder")) {
        throw UsageError("option --full-folder goes with --top-k or --epochs");
      }
    }
    s.best_folder = p.value("best-folder", "checkpoints");
    s.full_folder = p.value("full-folder", "checkpoints");
    if (!fs::is_directory(s.path)) throw UsageError(cat("--pipeline '", s.path, "' is not a folder"));
    o.pipeline = s;
  }
  if (!fs::is_directory(o.input)) throw UsageError(cat("--input '", o.input, "' is not a folder"));
  return o;
}

InferOptions load_infer_config(const std::string& path, const std::vector<std::string>& overrides) {
  PLEURA_CHECK(fs::is_regular_file(path), "configuration file ", path, " does not exist");
  IniFile ini = IniFile::load(path);
  for (const std::string& assignment : overrides) ini.set_override(assignment);
  InferOptions o;
  // A value whose meaning is wrong: the message starts with where it was written.
  auto meaning = [&](const std::string& section, const std::string& key, auto&& fn) {
    try {
      return fn();
    } catch (const Error& e) {
      throw_error(cat(ini.where(section, key), ": ", e.what()));
    }
  };
  auto positive = [&](const std::string& section, const std::string& key, int64_t fallback, int64_t hi) {
    const int64_t v = ini.get_int(section, key, fallback);
    PLEURA_CHECK(v >= 1 && v <= hi, ini.where(section, key), ": ", v, " is outside 1..", hi);
    return v;
  };

  const std::string device = ini.get_string("run", "device", "cpu");
  o.device = meaning("run", "device", [&] { return Device::parse(device); });
  o.batch = positive("run", "batch_size", 2, 4096);
  o.workers = static_cast<int>(positive("run", "workers", data::default_job_threads(), 1024));

  o.input = ini.get_string("data", "input");
  o.size = ini.get_int("data", "size");
  const std::string norm = ini.get_string("data", "normalization", "unit");
  o.norm = meaning("data", "normalization", [&] { return augment::parse_normalization(norm); });

  o.model = ini.get_string("model", "name");
  meaning("data", "size", [&] {
    check_model_and_size(o.model, o.size);
    return 0;
  });

  o.flip = ini.get_bool("tta", "flip", false);

  o.output = ini.get_string("output", "dir");
  const std::string format = ini.get_string("output", "format", "npy");
  o.format = meaning("output", "format", [&] { return parse_map_format(format); });
  o.resume = ini.get_bool("output", "resume", false);

  const bool has_weights = ini.has("checkpoints", "weights");
  const bool has_pipeline = ini.has("checkpoints", "pipeline_path");
  PLEURA_CHECK(has_weights != has_pipeline, ini.file_name(),
               ": [checkpoints] needs either 'weights' or 'pipeline_path' (exactly one)");
  if (has_weights) {
    o.weights = ini.get_strings("checkpoints", "weights");
  } else {
    PipelineSelection s;
    s.path = ini.get_string("checkpoints", "pipeline_path");
    s.name = ini.get_string("checkpoints", "pipeline_name");
    s.best_folder = ini.get_string("checkpoints", "best_folder", "checkpoints");
    s.full_folder = ini.get_string("checkpoints", "full_folder", "checkpoints");
    const std::string select = ini.get_string("checkpoints", "select");
    const std::string folds = ini.get_string("checkpoints", "folds");
    s.folds = meaning("checkpoints", "folds", [&] { return parse_index_list("folds", folds); });
    if (select == "best") {
      s.selection = Selection::kBest;
    } else if (select == "top_k") {
      s.selection = Selection::kTopK;
      s.top_k = positive("checkpoints", "top_k", 0, 1000);
    } else if (select == "epochs") {
      s.selection = Selection::kEpochs;
      for (int64_t fold : s.folds) {
        const std::string key = cat("epochs.fold", fold);
        const std::string epochs = ini.get_string("checkpoints", key);
        s.epochs.emplace_back(fold, meaning("checkpoints", key, [&] { return parse_index_list("epochs", epochs); }));
      }
    } else {
      throw_error(cat(ini.where("checkpoints", "select"), ": '", select, "' is not best, top_k or epochs"));
    }
    o.pipeline = s;
  }
  ini.check_all_used();
  return o;
}

}  // namespace pleura::infer
