// TrainDataset (data/dataset.h): opening checks, fold splits and per-item loading from a prepared
// cache or a DICOM tree. Tests: tests/data/test_dataset.cpp.
#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "engine/error.h"
#include "data/dicom.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/prepare.h"

namespace fs = std::filesystem;

namespace pleura {

struct TrainDataset::Reader {
  DatasetSource source;
  std::string folds_file;
  std::vector<data::FoldEntry> entries;
  std::vector<std::string> tree_paths;             // tree mode: the image file of each entry
  std::shared_ptr<const data::RleLabels> labels;   // tree mode

  std::string image_path(int64_t e) const {
    return source.cache.empty() ? tree_paths[static_cast<size_t>(e)]
                                : source.cache + "/images/" + entries[static_cast<size_t>(e)].image_id + ".png";
  }
  std::string mask_path(int64_t e) const {
    return source.cache + "/masks/" + entries[static_cast<size_t>(e)].image_id + ".png";
  }
};

namespace {

std::string some(const std::vector<std::string>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < 5; ++i) s += (i ? ", " : "") + ids[i];
  if (ids.size() > 5) s += cat(", ... (", ids.size() - 5, " more)");
  return s;
}

bool is_dicom(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".dcm";
}

void check_cache(const TrainDataset::Reader& r) {
  const std::string manifest_path = r.source.cache + "/manifest.csv";
  PLEURA_CHECK(fs::is_regular_file(manifest_path), "[dataset] cache '", r.source.cache,
               "' has no manifest.csv (make the cache with tools/prepare_data)");
  std::map<std::string, data::ManifestRow> manifest;
  for (data::ManifestRow& row : data::read_manifest(manifest_path)) manifest[row.image_id] = std::move(row);
  std::vector<std::string> unlisted, no_image, no_mask, disagree;
  for (int64_t e = 0; e < static_cast<int64_t>(r.entries.size()); ++e) {
    const data::FoldEntry& entry = r.entries[static_cast<size_t>(e)];
    auto it = manifest.find(entry.image_id);
    if (it == manifest.end()) {
      unlisted.push_back(entry.image_id);
    } else if (it->second.has_mask.has_value() && *it->second.has_mask != entry.positive) {
      disagree.push_back(entry.image_id);
    }
    if (!fs::is_regular_file(r.image_path(e))) no_image.push_back(entry.image_id);
    if (!fs::is_regular_file(r.mask_path(e))) no_mask.push_back(entry.image_id);
  }
  const size_t n = r.entries.size();
  PLEURA_CHECK(no_image.empty(), "[dataset] ", no_image.size(), " of the ", n, " images of ", r.folds_file,
               " are missing from ", r.source.cache, "/images: ", some(no_image));
  PLEURA_CHECK(no_mask.empty(), "[dataset] ", no_mask.size(), " of the ", n, " images of ", r.folds_file,
               " have no mask in ", r.source.cache, "/masks (was the cache prepared with --labels?): ", some(no_mask));
  PLEURA_CHECK(unlisted.empty(), "[dataset] ", unlisted.size(), " of the ", n, " images of ", r.folds_file,
               " are not in ", manifest_path, ": ", some(unlisted));
  PLEURA_CHECK(disagree.empty(), "[dataset] ", disagree.size(), " images have exist_labels in ", r.folds_file,
               " disagreeing with has_mask in ", manifest_path, ": ", some(disagree));
}

void open_tree(TrainDataset::Reader& r) {
  std::map<std::string, std::string> found;
  for (const data::SourceImage& s : data::find_source_images(r.source.images)) found[s.image_id] = s.path;
  auto labels = std::make_shared<data::RleLabels>(data::RleLabels::read(r.source.labels, data::RleFormat::kSiimRelative));
  std::vector<std::string> no_image, unlabelled, disagree;
  for (const data::FoldEntry& entry : r.entries) {
    auto it = found.find(entry.image_id);
    if (it == found.end()) {
      no_image.push_back(entry.image_id);
      r.tree_paths.emplace_back();
    } else {
      r.tree_paths.push_back(it->second);
    }
    if (!labels->contains(entry.image_id)) {
      unlabelled.push_back(entry.image_id);
    } else if (labels->positive(entry.image_id) != entry.positive) {
      disagree.push_back(entry.image_id);
    }
  }
  const size_t n = r.entries.size();
  PLEURA_CHECK(no_image.empty(), "[dataset] ", no_image.size(), " of the ", n, " images of ", r.folds_file,
               " have no .dcm/.png/.jpg file under ", r.source.images, ": ", some(no_image));
  PLEURA_CHECK(unlabelled.empty(), "[dataset] ", unlabelled.size(), " of the ", n, " images of ", r.folds_file,
               " have no row in ", r.source.labels, ": ", some(unlabelled));
  PLEURA_CHECK(disagree.empty(), "[dataset] ", disagree.size(), " images have exist_labels in ", r.folds_file,
               " disagreeing with ", r.source.labels, ": ", some(disagree));
  r.labels = std::move(labels);
}

Sample load_item(const TrainDataset::Reader& r, int64_t e, MaskPolicy policy) {
  PLEURA_CHECK(e >= 0 && e < static_cast<int64_t>(r.entries.size()), "[dataset] item ", e, " out of range (",
               r.entries.size(), " items)");
  const data::FoldEntry& entry = r.entries[static_cast<size_t>(e)];
  const std::string path = r.image_path(e);
  Sample s;
  s.image = is_dicom(path) ? data::read_dicom(path) : data::read_image_gray(path);
  if (policy == MaskPolicy::kZerosForNegatives && !entry.positive) {
    s.mask = GrayImage(s.image.height, s.image.width, 0);
  } else if (r.source.cache.empty()) {
    s.mask = r.labels->mask(entry.image_id, s.image.height, s.image.width);
  } else {
    s.mask = data::read_image_gray(r.mask_path(e));
    PLEURA_CHECK(s.mask.height == s.image.height && s.mask.width == s.image.width, "[dataset] mask ",
                 r.mask_path(e), " is ", s.mask.height, "x", s.mask.width, " but its image is ", s.image.height, "x",
                 s.image.width);
  }
  return s;
}

}  // namespace

int64_t FoldSplit::train_positives() const {
  return std::count(train_positive.begin(), train_positive.end(), true);
}
int64_t FoldSplit::valid_positives() const {
  return std::count(valid_positive.begin(), valid_positive.end(), true);
}

TrainDataset TrainDataset::open(const DatasetSource& source, const std::string& folds_file) {
  PLEURA_CHECK(!source.cache.empty() || (!source.images.empty() && !source.labels.empty()),
               "[dataset] give a prepared cache, or an image tree and its labels");
  TrainDataset d;
  d.folds_ = data::read_folds(folds_file);
  auto reader = std::make_shared<Reader>();
  reader->source = source;
  reader->folds_file = folds_file;
  reader->entries = d.folds_.entries;
  if (!source.cache.empty()) {
    check_cache(*reader);
  } else {
    open_tree(*reader);
  }
  d.reader_ = std::move(reader);
  return d;
}

FoldSplit TrainDataset::split(int fold) const {
  FoldSplit s;
  s.fold = fold;
  for (int64_t e = 0; e < static_cast<int64_t>(entries().size()); ++e) {
    const data::FoldEntry& entry = entries()[static_cast<size_t>(e)];
    if (entry.fold == fold) {
      s.valid.push_back(e);
      s.valid_positive.push_back(entry.positive);
    } else {
      s.train.push_back(e);
      s.train_positive.push_back(entry.positive);
    }
  }
  PLEURA_CHECK(!s.valid.empty(), "[dataset] fold ", fold, " holds no image in ", reader_->folds_file, " (folds 0..",
               folds_.num_folds - 1, ")");
  PLEURA_CHECK(!s.train.empty(), "[dataset] fold ", fold, " leaves no training image in ", reader_->folds_file);
  return s;
}

Sample TrainDataset::load(int64_t entry, MaskPolicy policy) const { return load_item(*reader_, entry, policy); }

SampleSource TrainDataset::source(std::vector<int64_t> items, MaskPolicy policy) const {
  std::shared_ptr<const Reader> reader = reader_;
  return [reader, items = std::move(items), policy](int64_t i) {
    PLEURA_CHECK(i >= 0 && i < static_cast<int64_t>(items.size()), "[dataset] loader index ", i, " out of range (",
                 items.size(), " items)");
    return load_item(*reader, items[static_cast<size_t>(i)], policy);
  };
}

SampleNamer TrainDataset::namer(std::vector<int64_t> items) const {
  std::shared_ptr<const Reader> reader = reader_;
  return [reader, items = std::move(items)](int64_t i) {
    return reader->entries.at(static_cast<size_t>(items.at(static_cast<size_t>(i)))).image_id;
  };
}

std::string TrainDataset::describe() const {
  const DatasetSource& s = reader_->source;
  return s.cache.empty() ? cat("image tree ", s.images, " with labels ", s.labels) : cat("prepared cache ", s.cache);
}

}  // namespace pleura
