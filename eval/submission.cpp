// Probability maps to a submission CSV (see submission.h).
#include "eval/submission.h"

#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "engine/parallel.h"
#include "engine/error.h"
#include "data/csv.h"
#include "data/jobs.h"
#include "data/progress.h"
#include "data/resize.h"
#include "data/rle_csv.h"
#include "eval/components.h"

namespace pleura::eval {

namespace {

// An H x W probability map (float32 [H, W]) as the [1, 1, H, W] batch the triplet ops take.
Tensor as_batch_of_one(const Tensor& map) {
  PLEURA_CHECK(map.ndim() == 2 && map.dtype() == DType::kFloat32,
               "[as_batch_of_one] expected a float32 [H, W] map, got ", describe(map));
  return map.view({1, 1, map.size(0), map.size(1)});
}

}  // namespace

GrayImage triplet_mask(const Tensor& map, const Triplet& triplet) {
  const Tensor masks = triplet_masks(as_batch_of_one(map), {triplet});  // uint8 [1, 1, H, W] of 0/1
  GrayImage out(map.size(0), map.size(1), 0);
  const uint8_t* m = masks.data<uint8_t>();
  for (size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = m[i] ? 255 : 0;
  return out;
}

GrayImage upscale_mask(const GrayImage& mask, int64_t out_h, int64_t out_w) {
  // The reference skips the resize only when the map is 1024 high (mask.shape[0] == 1024); Pleura
  // compares both sides with the output size, which is the same for the square maps the solution makes.
  GrayImage out = mask.height == out_h && mask.width == out_w ? mask : data::resize_bilinear(mask, out_h, out_w);
  for (uint8_t& v : out.pixels) v = v > 127 ? 255 : 0;
  return out;
}

GrayImage submission_mask(const Tensor& map, const SubmitOptions& options, int64_t* removed) {
  GrayImage mask = triplet_mask(map, options.triplet);
  const int64_t n = remove_small_components(mask, options.min_component);
  if (removed) *removed = n;
  return upscale_mask(mask, options.out_height, options.out_width);
}

SampleIds read_sample_ids(const std::string& path) {
  std::vector<data::CsvLine> lines = data::read_csv_lines(path);
  PLEURA_CHECK(!lines.empty(), path, ": empty sample submission (expected a header ImageId,EncodedPixels)");
  const std::vector<std::string_view> header = data::split_fields(lines[0].text);
  const std::string first = data::to_lower(data::trim(header[0]));
  PLEURA_CHECK(first == "imageid" || first == "fname", path, ":", lines[0].number,
               ": expected a header starting with ImageId (or fname), got '", lines[0].text, "'");
  SampleIds sample;
  std::unordered_set<std::string> seen;
  for (size_t k = 1; k < lines.size(); ++k) {
    const std::string id(data::trim(data::split_fields(lines[k].text)[0]));
    data::check_image_id(id, cat(path, ":", lines[k].number));
    if (seen.insert(id).second) {
      sample.ids.push_back(id);
    } else if (sample.repeated_rows++ == 0) {
      sample.first_repeat = cat(path, ":", lines[k].number, " ('", id, "')");
    }
  }
  PLEURA_CHECK(!sample.ids.empty(), path, ": the sample submission lists no ImageId");
  return sample;
}

SubmissionSummary write_submission(const ProbEnsemble& maps, const std::vector<std::string>& sample_ids,
                                   const SubmitOptions& options, bool missing_empty, const std::string& out_path,
                                   std::ostream& log, bool terminal) {
  const auto start = std::chrono::steady_clock::now();
  std::unordered_map<std::string, size_t> map_index;
  for (size_t k = 0; k < maps.ids().size(); ++k) map_index.emplace(maps.ids()[k], k);

  SubmissionSummary summary;
  std::vector<std::string> missing;
  std::vector<int64_t> index_of_row(sample_ids.size(), -1);  // row -> map index, -1 for none
  for (size_t r = 0; r < sample_ids.size(); ++r) {
    auto it = map_index.find(sample_ids[r]);
    if (it == map_index.end()) {
      missing.push_back(sample_ids[r]);
    } else {
      index_of_row[r] = static_cast<int64_t>(it->second);
    }
  }
  PLEURA_CHECK(missing.empty() || missing_empty, missing.size(), " ImageId(s) of the sample submission have no map in ",
               maps.folders() == 1 ? "the probability folder" : "the probability folders", ": ", list_names(missing),
               " (--missing-empty writes them as -1)");
  summary.missing_as_empty = static_cast<int64_t>(missing.size());
  summary.maps_not_in_sample = static_cast<int64_t>(maps.ids().size()) -
                               (static_cast<int64_t>(sample_ids.size()) - summary.missing_as_empty);

  std::vector<data::RleOutputRow> rows(sample_ids.size());
  std::vector<int64_t> removed(sample_ids.size(), 0);
  data::Progress progress(log, "rle_submit", static_cast<int64_t>(sample_ids.size()), terminal);
  // Images in parallel: each row is written by one job only, so the file does not depend on the thread
  // count. The triplet op's own parallel_for runs inline inside a job.
  data::run_jobs(static_cast<int64_t>(sample_ids.size()), num_threads(), [&](int64_t r) {
    const size_t row = static_cast<size_t>(r);
    rows[row].image_id = sample_ids[row];
    if (index_of_row[row] < 0) {
      rows[row].rle = "-1";
    } else {
      const Tensor map = maps.load(static_cast<size_t>(index_of_row[row]));
      rows[row].rle = data::encode_rle(submission_mask(map, options, &removed[row]), options.format);
    }
    progress.advance();
  });
  progress.finish();
  data::write_rle_csv(out_path, rows);
  summary.rows = static_cast<int64_t>(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    summary.non_empty += rows[r].rle != "-1";
    summary.components_removed += removed[r];
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace pleura::eval
