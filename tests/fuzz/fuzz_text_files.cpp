// Fuzz targets of the text formats: SIIM RLE strings (data/rle.h), the label / submission, fold, sample
// submission and manifest CSVs (data/rle_csv.h, data/folds.h, eval/submission.h, data/manifest.h) and the
// INI configurations with --set overrides (train/ini.h through the training and inference readers).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "data/folds.h"
#include "data/manifest.h"
#include "data/rle.h"
#include "data/rle_csv.h"
#include "eval/scoring.h"
#include "eval/submission.h"
#include "infer/infer_options.h"
#include "train/ini.h"
#include "train/train_config.h"
#include "tests/fuzz/fuzz_targets.h"

namespace pleura::fuzz {
namespace {

constexpr data::RleFormat kFormats[] = {data::RleFormat::kSiimRelative, data::RleFormat::kAbsolute};

std::string_view as_text(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

}  // namespace

// Bytes 0 and 1 choose the mask's height and width (1..64); the rest is the RLE string.
int fuzz_rle(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int64_t height = 1 + data[0] % 64, width = 1 + data[1] % 64;
  const std::string_view rle = as_text(data + 2, size - 2);
  for (data::RleFormat format : kFormats) {
    refused_ok([&] {
      const GrayImage mask = data::decode_rle(rle, height, width, format, "fuzz");
      const std::string encoded = data::encode_rle(mask, format);
      const GrayImage again = data::decode_rle(encoded, height, width, format, "re-encoded");
      require(again.pixels == mask.pixels, "RLE decode -> encode -> decode changed the mask");
    });
  }
  return 0;
}

// Both RLE forms; every id's mask at 32x32, and the file scored against itself, which must give 1.
int fuzz_label_csv(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file(as_text(data, size), ".csv");
  for (data::RleFormat format : kFormats) {
    refused_ok([&] {
      const data::RleLabels labels = data::RleLabels::read(path, format);
      const size_t shown = std::min<size_t>(labels.ids().size(), 16);
      for (size_t i = 0; i < shown; ++i) refused_ok([&] { labels.mask(labels.ids()[i], 32, 32); });
      eval::ScoreOptions options;
      options.height = options.width = 32;
      const eval::SubmissionScore score = eval::score_submission(labels, labels, options);
      require(score.images == static_cast<int64_t>(labels.ids().size()), "self-score counted the wrong images");
      require(score.kaggle_dice == 1.0 && score.empty_accuracy == 1.0, "a label file scored against itself is not 1");
    });
  }
  return 0;
}

int fuzz_folds_csv(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file(as_text(data, size), ".csv");
  refused_ok([&] {
    const data::Folds folds = data::read_folds(path);
    for (const data::FoldEntry& e : folds.entries) {
      require(e.fold >= 0 && e.fold < folds.num_folds, "a fold entry outside 0..num_folds-1");
    }
  });
  return 0;
}

int fuzz_sample_csv(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file(as_text(data, size), ".csv");
  refused_ok([&] {
    std::vector<std::string> ids = eval::read_sample_ids(path).ids;
    std::sort(ids.begin(), ids.end());
    require(std::adjacent_find(ids.begin(), ids.end()) == ids.end(), "read_sample_ids returned an id twice");
  });
  return 0;
}

int fuzz_manifest_csv(const uint8_t* data, size_t size) {
  const std::string& path = scratch_file(as_text(data, size), ".csv");
  refused_ok([&] {
    for (const data::ManifestRow& row : data::read_manifest(path)) {
      require(row.height > 0 && row.width > 0, "a manifest row with a non-positive size");
    }
  });
  return 0;
}

// The text up to a line "%%" is the INI file; each later line is one --set override.
int fuzz_ini(const uint8_t* data, size_t size) {
  const std::string_view input = as_text(data, size);
  const size_t split = input.find("\n%%\n");
  const std::string text(input.substr(0, split));
  std::vector<std::string> overrides;
  if (split != std::string_view::npos) {
    std::string_view rest = input.substr(split + 4);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      overrides.emplace_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  refused_ok([&] { parse_train_config(text, "fuzz.ini", overrides); });
  const std::string& path = scratch_file(text, ".ini");
  refused_ok([&] { infer::load_infer_config(path, overrides); });
  // The typed getters on whatever parsed, for a key of each section the configs use.
  refused_ok([&] {
    IniFile ini = IniFile::parse(text, "fuzz.ini");
    for (const std::string& o : overrides) refused_ok([&] { ini.set_override(o); });
    for (const char* section : {"run", "data", "train", "optimizer", "augment", "infer", "submit"}) {
      for (const char* key : {"seed", "size", "lr", "epochs", "batch_size", "folds", "triplets", "output"}) {
        refused_ok([&] { ini.get_double(section, key, 0.0); });
        refused_ok([&] { ini.get_int(section, key, 0); });
        refused_ok([&] { ini.get_bool(section, key, false); });
        if (ini.has(section, key)) {
          refused_ok([&] { ini.get_doubles(section, key); });
          refused_ok([&] { ini.get_ints(section, key); });
          refused_ok([&] { ini.get_strings(section, key); });
        }
      }
    }
    refused_ok([&] { ini.check_all_used(); });
  });
  return 0;
}

}  // namespace pleura::fuzz
