// Progress reporting for the data tools. On a terminal: one bar redrawn in place (at most 10 times a
// second) with the count, the rate and the time left; otherwise (a log file, a pipe): a plain line at
// every tenth of the work. Thread-safe. Used by prepare.cpp and synthetic_dataset.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

namespace pleura::data {

class Progress {
 public:
  Progress(std::ostream& out, std::string label, int64_t total, bool terminal);
  void advance(int64_t n = 1);
  // Draws the final state (and ends the bar's line on a terminal).
  void finish();
  double seconds() const;

 private:
  void draw(bool final_draw);
  std::ostream& out_;
  std::string label_;
  int64_t total_, done_ = 0, last_decile_ = 0, last_printed_ = -1;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

// True when file descriptor 2 (stderr) is a terminal.
bool stderr_is_terminal();

}  // namespace pleura::data
