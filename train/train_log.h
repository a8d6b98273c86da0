// What a training run reports: the reference's summary.csv (epoch, best_metric, one column per triplet,
// appended per validated epoch), a metrics CSV (epoch, train_loss, lr, epoch_seconds, data_wait_share,
// best_triplet, score), a log file mirrored to a stream, and a progress display (a bar redrawn in
// place on a terminal, plain lines every tenth of an epoch otherwise). Every CSV update rewrites the file
// atomically. The learning-curve PNG is in train/learning_curve.h. Implementation in train/train_log.cpp;
// tests in tests/tools/test_train_unet.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/triplet_mask.h"

namespace pleura {

// Shortest text that reads back to the same double ("0.75", "1e-05").
std::string format_number(double v);
// Python's str() of the triplet tuple the reference used as a column name: "(0.75, 1000, 0.3)".
std::string triplet_label(const Triplet& t);

// A CSV with a fixed header, kept whole: rows() counts data rows, truncate() drops rows written after a
// checkpoint (so a resumed run does not repeat them), append() adds one row. A file with another header
// is an error naming it.
class CsvLog {
 public:
  CsvLog(std::string path, std::vector<std::string> header);
  const std::string& path() const { return path_; }
  int64_t rows() const;
  void truncate(int64_t rows) const;
  void append(const std::vector<std::string>& fields) const;
  // Column `name` of every row ("" where empty).
  std::vector<std::string> column(const std::string& name) const;
  // From now on truncate() and append() leave the file alone (the data-parallel ranks other than 0,
  // which read what rank 0 writes).
  void set_read_only() { read_only_ = true; }

 private:
  bool read_only_ = false;
  std::vector<std::string> read_rows() const;  // data lines, header checked
  std::string path_;
  std::string header_line_;
  std::vector<std::string> header_;
};

// The reference's summary.csv for `triplets`.
CsvLog summary_csv(const std::string& path, const std::vector<Triplet>& triplets);
// The metrics CSV.
CsvLog metrics_csv(const std::string& path);
// The highest best_metric of an existing summary.csv (the reference's starting best score), if any row.
std::optional<double> best_in_summary(const CsvLog& summary);

// Timestamped lines to a log file (appended) and to a stream. An empty path: the stream alone.
class RunLog {
 public:
  RunLog(const std::string& path, std::ostream& out);
  void line(const std::string& text);
  // To the file only (e.g. the whole configuration).
  void file_only(const std::string& text);

 private:
  std::ofstream file_;
  std::ostream& out_;
};

// Per-batch progress of one epoch phase ("train" or "valid").
class EpochProgress {
 public:
  EpochProgress(std::ostream& out, bool terminal, std::string label, int64_t total, int64_t done = 0);
  // One more batch; `status` follows the counts (e.g. "loss 0.3121 lr 1e-04").
  void advance(const std::string& status);
  void finish(const std::string& status);

 private:
  void draw(const std::string& status, bool final_draw);
  std::ostream& out_;
  bool terminal_;
  std::string label_;
  int64_t total_, done_, start_done_, last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace pleura
