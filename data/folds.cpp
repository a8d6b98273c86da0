// Reading, making, writing and checking fold files (see folds.h).
#include "data/folds.h"

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include "engine/error.h"
#include "engine/file_io.h"
#include "engine/random.h"
#include "data/csv.h"
#include "data/rle_csv.h"

namespace pleura::data {
namespace {

std::string strip_extension(const std::string& fname) {
  const size_t dot = fname.rfind('.');
  return dot == std::string::npos || dot == 0 ? fname : fname.substr(0, dot);
}

// "'a.png' (folds.csv:2), 'b.png' (folds.csv:3) and 7 more" for error messages.
std::string list_some(const std::vector<const FoldEntry*>& entries) {
  std::string out;
  const size_t shown = std::min<size_t>(entries.size(), 5);
  for (size_t i = 0; i < shown; ++i) {
    const FoldEntry& e = *entries[i];
    out += cat(i ? ", '" : "'", e.fname, "'", e.where.empty() ? std::string() : cat(" (", e.where, ")"));
  }
  if (entries.size() > shown) out += cat(" and ", entries.size() - shown, " more");
  return out;
}

// Fisher-Yates with the engine's portable generator.
void shuffle(std::vector<std::string>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.below(i))]);
}

}  // namespace

Folds read_folds(const std::string& path) {
  std::vector<CsvLine> lines = read_csv_lines(path);
  PLEURA_CHECK(!lines.empty(), path, ": empty folds file (expected a header fname,fold,exist_labels)");
  std::vector<std::string_view> names = split_fields(lines[0].text);
  PLEURA_CHECK(names.size() == 3 && trim(names[0]) == "fname" && trim(names[1]) == "fold" &&
                   trim(names[2]) == "exist_labels",
               path, ":", lines[0].number, ": expected the header 'fname,fold,exist_labels', got '",
               lines[0].text, "'");
  Folds folds;
  std::unordered_set<std::string> seen;
  for (size_t k = 1; k < lines.size(); ++k) {
    const CsvLine& line = lines[k];
    std::vector<std::string_view> f = split_fields(line.text);
    PLEURA_CHECK(f.size() == 3, path, ":", line.number, ": expected 3 fields, got ", f.size());
    FoldEntry e;
    e.where = cat(path, ":", line.number);
    e.fname = std::string(trim(f[0]));
    PLEURA_CHECK(!e.fname.empty(), path, ":", line.number, ": empty fname");
    e.image_id = strip_extension(e.fname);
    check_image_id(e.fname, cat(path, ":", line.number));  // the trainer reads <cache>/images/<fname>
    int64_t fold = 0, exist = 0;
    PLEURA_CHECK(parse_nonnegative(trim(f[1]), 999, fold), path, ":", line.number, ": fold '", f[1],
                 "' is not an integer in 0..999");
    PLEURA_CHECK(parse_nonnegative(trim(f[2]), 1, exist), path, ":", line.number, ": exist_labels '",
                 f[2], "' is not 0 or 1");
    PLEURA_CHECK(seen.insert(e.image_id).second, path, ":", line.number, ": '", e.fname,
                 "' appears twice");
    e.fold = static_cast<int>(fold);
    e.positive = exist == 1;
    folds.num_folds = std::max(folds.num_folds, e.fold + 1);
    folds.entries.push_back(std::move(e));
  }
  PLEURA_CHECK(!folds.entries.empty(), path, ": no rows after the header");
  std::vector<int64_t> counts(static_cast<size_t>(folds.num_folds), 0);
  for (const FoldEntry& e : folds.entries) ++counts[static_cast<size_t>(e.fold)];
  for (int f = 0; f < folds.num_folds; ++f) {
    PLEURA_CHECK(counts[static_cast<size_t>(f)] > 0, path, ": fold ", f, " holds no image (folds 0..",
                 folds.num_folds - 1, " expected)");
  }
  return folds;
}

Folds make_stratified_folds(const std::vector<std::pair<std::string, bool>>& labels, int k, uint64_t seed) {
  PLEURA_CHECK(k >= 2, "[make_stratified_folds] k = ", k, ", expected at least 2");
  PLEURA_CHECK(static_cast<int64_t>(labels.size()) >= k, "[make_stratified_folds] ", labels.size(),
               " images cannot fill ", k, " folds");
  std::vector<std::string> pos, neg;
  std::unordered_set<std::string> seen;
  for (const auto& [id, positive] : labels) {
    PLEURA_CHECK(seen.insert(id).second, "[make_stratified_folds] ImageId '", id, "' given twice");
    (positive ? pos : neg).push_back(id);
  }
  std::sort(pos.begin(), pos.end());
  std::sort(neg.begin(), neg.end());
  Rng rng(seed);
  shuffle(pos, rng);
  shuffle(neg, rng);
  Folds folds;
  folds.num_folds = k;
  int next = 0;
  for (const auto* group : {&pos, &neg}) {
    for (const std::string& id : *group) {
      folds.entries.push_back({id, id + ".png", next, group == &pos, ""});
      next = (next + 1) % k;
    }
  }
  std::sort(folds.entries.begin(), folds.entries.end(),
            [](const FoldEntry& a, const FoldEntry& b) { return a.image_id < b.image_id; });
  return folds;
}

void write_folds(const std::string& path, const Folds& folds) {
  std::string text = "fname,fold,exist_labels\n";
  for (const FoldEntry& e : folds.entries) text += cat(e.fname, ",", e.fold, ",", e.positive ? 1 : 0, "\n");
  write_file_atomic(path, text);
}

void check_folds(const Folds& folds, const RleLabels& labels, const std::string& image_dir) {
  std::vector<const FoldEntry*> unlabelled, disagree, missing;
  for (const FoldEntry& e : folds.entries) {
    if (!labels.contains(e.image_id)) {
      unlabelled.push_back(&e);
    } else if (labels.positive(e.image_id) != e.positive) {
      disagree.push_back(&e);
    }
    if (!image_dir.empty() && !std::filesystem::is_regular_file(std::filesystem::path(image_dir) / e.fname)) {
      missing.push_back(&e);
    }
  }
  PLEURA_CHECK(unlabelled.empty(), unlabelled.size(), " image(s) of the folds are absent from the labels ",
               labels.path(), ": ", list_some(unlabelled));
  PLEURA_CHECK(disagree.empty(), disagree.size(), " image(s) have exist_labels disagreeing with ",
               labels.path(), ": ", list_some(disagree));
  PLEURA_CHECK(missing.empty(), missing.size(), " image(s) of the folds are missing in ", image_dir, ": ",
               list_some(missing));
}

}  // namespace pleura::data
