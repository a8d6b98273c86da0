// infer_unet's settings from an INI file, and the checks shared with its flags (see infer_options.h).
#include "infer/infer_options.h"

#include <set>

#include "engine/error.h"
#include "engine/file_io.h"
#include "models/registry.h"
#include "data/csv.h"
#include "data/image_io.h"
#include "data/jobs.h"
#include "train/ini.h"

namespace pleura::infer {
namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  for (std::string_view f : data::split_fields(text)) items.emplace_back(data::trim(f));
  return items;
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

InferOptions load_infer_config(const std::string& path, const std::vector<std::string>& overrides) {
  require_file(path, "configuration file");
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
  o.precision = parse_precision(ini.get_string("run", "precision", "fp32"), ini.where("run", "precision"));
  o.exact_convolutions = ini.get_bool("run", "exact_convolutions", false);
  o.cuda_graphs = ini.get_bool("run", "cuda_graphs", false);
  o.cudnn_algorithms = parse_conv_algorithm_choice(ini.get_string("run", "cudnn_algorithms", "measured"),
                                                   ini.where("run", "cudnn_algorithms"));
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
