// Dataset preparation: DICOM / PNG tree to PNGs, masks and a manifest (see prepare.h).
#include "data/prepare.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "engine/error.h"
#include "engine/file_io.h"
#include "engine/folder_lock.h"
#include "engine/hash.h"
#include "engine/interrupt.h"
#include "data/csv.h"
#include "data/dicom.h"
#include "data/folds.h"
#include "data/image_io.h"
#include "data/jobs.h"
#include "data/manifest.h"
#include "data/progress.h"
#include "data/resize.h"
#include "data/rle_csv.h"

namespace fs = std::filesystem;

namespace pleura::data {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

bool is_dicom_path(const fs::path& p) { return lower(p.extension().string()) == ".dcm"; }

std::string list_some(const std::vector<std::string>& ids) {
  std::string out;
  const size_t shown = std::min<size_t>(ids.size(), 5);
  for (size_t i = 0; i < shown; ++i) out += cat(i ? ", '" : "'", ids[i], "'");
  if (ids.size() > shown) out += cat(" and ", ids.size() - shown, " more");
  return out;
}

GrayImage read_source(const SourceImage& src, int64_t& height, int64_t& width) {
  GrayImage img = is_dicom_path(src.path) ? read_dicom(src.path) : read_image_gray(src.path);
  height = img.height;
  width = img.width;
  return img;
}

void source_size(const SourceImage& src, int64_t& height, int64_t& width) {
  if (is_dicom_path(src.path)) {
    const DicomInfo info = read_dicom_info(src.path);
    height = info.rows;
    width = info.columns;
  } else {
    read_image_size(src.path, height, width);
  }
}

int64_t count_on(const GrayImage& mask) {
  return std::count_if(mask.pixels.begin(), mask.pixels.end(), [](uint8_t v) { return v != 0; });
}

// An existing output from an earlier run must have the size asked for now.
void check_existing(const std::string& path, int64_t size) {
  int64_t h = 0, w = 0;
  read_image_size(path, h, w);
  PLEURA_CHECK(h == size && w == size, path, " exists from an earlier run with size ", h, "x", w, ", but --size is ",
               size, " (use another --out, or delete it)");
}

// The sources with a label row. Images without one, and rows without an image, are errors unless
// --skip-missing; their counts go to the summary.
std::vector<SourceImage> keep_labelled(const std::vector<SourceImage>& sources, const RleLabels& labels,
                                       const PrepareOptions& options, PrepareSummary& summary) {
  std::vector<std::string> unlabelled, imageless;
  std::vector<SourceImage> kept;
  std::map<std::string, bool> on_disk;
  for (const SourceImage& s : sources) {
    on_disk[s.image_id] = true;
    if (labels.contains(s.image_id)) kept.push_back(s); else unlabelled.push_back(s.image_id);
  }
  for (const std::string& id : labels.ids()) {
    if (!on_disk.count(id)) imageless.push_back(id);
  }
  PLEURA_CHECK(options.skip_missing || unlabelled.empty(), unlabelled.size(), " image(s) under ", options.images_dir,
               " have no row in ", options.labels_path, ": ", list_some(unlabelled), " (--skip-missing skips them)");
  PLEURA_CHECK(options.skip_missing || imageless.empty(), imageless.size(), " ImageId(s) of ", options.labels_path,
               " have no image under ", options.images_dir, ": ", list_some(imageless),
               " (--skip-missing ignores them)");
  summary.unlabelled_skipped = static_cast<int64_t>(unlabelled.size());
  summary.labels_without_image = static_cast<int64_t>(imageless.size());
  PLEURA_CHECK(!kept.empty(), "no image under ", options.images_dir, " has a label row in ", options.labels_path);
  return kept;
}

// OUT/images and (with labels) OUT/masks, cleared of a killed run's temporary files.
void make_output_folders(const fs::path& out, bool with_masks) {
  fs::create_directories(out / "images");
  if (with_masks) fs::create_directories(out / "masks");
  remove_stale_temporaries((out / "images").string());  // what a killed run left (engine/file_io.h)
  if (with_masks) remove_stale_temporaries((out / "masks").string());
}

// What the masks of OUT were made from: the label file's content (FNV-1a, 64 bits) and RLE form, recorded
// in OUT/prepare_record.txt. A rerun over a changed label file would keep the old masks beside new ones
// ("0 written, 20 already there"): it is refused instead. A cache made before the record existed gets one.
std::string label_record(const PrepareOptions& options) {
  if (options.labels_path.empty()) return "labels none\n";
  return cat("labels ", fnv1a_hex(read_file(options.labels_path)), " ", rle_format_name(options.label_format), "\n");
}

void check_label_record(const fs::path& out, const PrepareOptions& options) {
  const std::string path = (out / "prepare_record.txt").string(), now = label_record(options);
  if (fs::exists(path)) {
    const std::string before = read_file(path);
    PLEURA_CHECK(before == now, path, ": this cache was made from other labels (recorded '",
                 before.substr(0, before.size() - 1), "', --labels ", options.labels_path.empty() ? "not given" : options.labels_path,
                 " gives '", now.substr(0, now.size() - 1),
                 "'); its masks would mix both: give another --out, or delete ", out.string(), " to start over");
    return;
  }
  write_file_atomic(path, now);
}

// Where one source's outputs go.
struct OutputPaths {
  std::string image, mask;
};

// Resume: the outputs of an earlier run stand; the manifest row is rebuilt from headers and the written mask.
void reuse_outputs(const SourceImage& src, const OutputPaths& paths, const std::optional<RleLabels>& labels,
                   int64_t size, ManifestRow& row) {
  check_existing(paths.image, size);
  source_size(src, row.source_height, row.source_width);
  if (labels) {
    check_existing(paths.mask, size);
    row.mask_pixels = count_on(read_image_gray(paths.mask));
    row.has_mask = labels->positive(src.image_id);
  }
}

// Reads one source, resizes it and its mask to size x size and writes them.
void write_outputs(const SourceImage& src, const OutputPaths& paths, const std::optional<RleLabels>& labels,
                   int64_t size, ManifestRow& row) {
  GrayImage img = read_source(src, row.source_height, row.source_width);
  if (labels) {
    // The mask first, so that an image whose labels do not fit fails before anything is written.
    GrayImage mask = labels->mask(src.image_id, img.height, img.width);
    if (mask.height != size || mask.width != size) {
      mask = resize_nearest(mask, size, size);
    }
    row.mask_pixels = count_on(mask);
    row.has_mask = labels->positive(src.image_id);
    write_png_gray(paths.mask, mask);
  }
  if (img.height != size || img.width != size) {
    img = resize_bilinear(img, size, size);
  }
  // The image last: its presence marks the pair as finished for a resumed run.
  write_png_gray(paths.image, img);
}

enum class Outcome : char { kWritten, kReused, kRedone };

// Prepares one source into OUT, or reuses what an earlier run wrote, unless the source was modified
// after its cached image was written; fills its manifest row.
Outcome prepare_source(const SourceImage& src, const fs::path& out, const std::optional<RleLabels>& labels,
                       int64_t size, ManifestRow& row) {
  row.image_id = src.image_id;
  row.source = src.path;
  row.height = row.width = size;
  const OutputPaths paths{(out / "images" / (src.image_id + ".png")).string(),
                          (out / "masks" / (src.image_id + ".png")).string()};
  const bool done = fs::exists(paths.image) && (!labels || fs::exists(paths.mask));
  if (done && fs::last_write_time(src.path) <= fs::last_write_time(paths.image)) {
    reuse_outputs(src, paths, labels, size, row);
    return Outcome::kReused;
  }
  write_outputs(src, paths, labels, size, row);
  return done ? Outcome::kRedone : Outcome::kWritten;
}

// OUT/folds_<K>.csv: a seeded stratified split of the manifest's images.
void write_folds_file(const fs::path& out, const std::vector<ManifestRow>& rows, const RleLabels& labels,
                      const PrepareOptions& options) {
  std::vector<std::pair<std::string, bool>> pairs;
  for (const ManifestRow& r : rows) pairs.emplace_back(r.image_id, labels.positive(r.image_id));
  write_folds((out / cat("folds_", options.folds, ".csv")).string(),
              make_stratified_folds(pairs, options.folds, options.seed));
}

}  // namespace

std::vector<SourceImage> find_source_images(const std::string& dir, const std::string& except) {
  std::error_code error;
  const auto is_image = [](const fs::path& p) { return is_dicom_path(p) || is_png_or_jpeg_path(p.string()); };
  const auto is_excepted = [&](const fs::path& p) { return !except.empty() && fs::equivalent(p, except, error); };
  std::vector<SourceImage> found;
  for (const fs::path& p : files_in_folder(dir, "image folder", /*recursive=*/true, is_image, is_excepted))
    found.push_back({p.stem().string(), p.string()});
  std::sort(found.begin(), found.end(), [](const SourceImage& a, const SourceImage& b) {
    return a.image_id != b.image_id ? a.image_id < b.image_id : a.path < b.path;
  });
  for (size_t i = 1; i < found.size(); ++i) {
    PLEURA_CHECK(found[i].image_id != found[i - 1].image_id, "two files have the ImageId '", found[i].image_id,
                 "': ", found[i - 1].path, " and ", found[i].path);
  }
  return found;
}

PrepareSummary prepare_dataset(const PrepareOptions& options, std::ostream& log) {
  PLEURA_CHECK(options.size >= 1 && options.size <= kMaxImageSide, "--size ", options.size, " is outside 1..",
               kMaxImageSide);
  PrepareSummary summary;
  // An --out inside --images is not searched: a rerun would take the PNGs written there for sources.
  std::vector<SourceImage> sources = find_source_images(options.images_dir, options.out_dir);
  PLEURA_CHECK(!sources.empty(), "no .dcm, .png or .jpg files under '", options.images_dir, "'");
  for (const SourceImage& s : sources) {  // before any image is written, not when the manifest is
    check_image_id(s.image_id, s.path);
    check_manifest_source(s.path);
  }
  std::optional<RleLabels> labels;
  if (!options.labels_path.empty()) {
    labels = RleLabels::read(options.labels_path, options.label_format);
    sources = keep_labelled(sources, *labels, options, summary);
  }
  PLEURA_CHECK(options.folds == 0 || labels, "--folds needs --labels");
  PLEURA_CHECK(options.folds == 0 || static_cast<int64_t>(sources.size()) >= options.folds, "--folds ",
               options.folds, " needs at least as many images, found ", sources.size());

  const fs::path out(options.out_dir);
  const FolderLock lock(out.string(), "prepare_data");  // one run per output folder (engine/folder_lock.h)
  check_label_record(out, options);
  make_output_folders(out, labels.has_value());
  std::vector<ManifestRow> rows(sources.size());
  std::vector<Outcome> outcomes(sources.size(), Outcome::kWritten);
  Progress progress(log, "prepare_data", static_cast<int64_t>(sources.size()), options.terminal);
  run_jobs(static_cast<int64_t>(sources.size()), options.threads, [&](int64_t i) {
    throw_if_stop_requested("; the images written so far stand, the same command continues");
    const size_t k = static_cast<size_t>(i);
    outcomes[k] = prepare_source(sources[k], out, labels, options.size, rows[k]);
    progress.advance();
  });
  progress.finish();
  write_manifest((out / "manifest.csv").string(), rows);
  if (options.folds > 0) write_folds_file(out, rows, *labels, options);
  summary.images = static_cast<int64_t>(rows.size());
  summary.resumed = std::count(outcomes.begin(), outcomes.end(), Outcome::kReused);
  summary.redone = std::count(outcomes.begin(), outcomes.end(), Outcome::kRedone);
  summary.written = summary.images - summary.resumed;
  for (const ManifestRow& r : rows) summary.positives += r.has_mask.value_or(false);
  summary.seconds = progress.seconds();
  return summary;
}

}  // namespace pleura::data
