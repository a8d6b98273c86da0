// Progress bar / progress lines (see progress.h).
#include "data/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace pleura::data {
namespace {

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return buffer;
}

}  // namespace

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::ostream& out, std::string label, int64_t total, bool terminal)
    : out_(out), label_(std::move(label)), total_(std::max<int64_t>(total, 0)), terminal_(terminal),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  draw(false);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  draw(true);
}

void Progress::draw(bool final_draw) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  char numbers[96];
  std::snprintf(numbers, sizeof numbers, "%lld/%lld, %.1f/s", static_cast<long long>(done_),
                static_cast<long long>(total_), rate);
  if (terminal_) {
    if (!final_draw && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::string eta = rate > 0 && done_ < total_ ? ", " + format_duration(static_cast<double>(total_ - done_) / rate) + " left"
                                                 : "";
    out_ << '\r' << label_ << " [" << bar << "] " << numbers << eta << "   ";
    if (final_draw) out_ << '\n';
    out_.flush();
    return;
  }
  const int64_t decile = total_ > 0 ? done_ * 10 / total_ : 10;
  if ((final_draw && done_ != last_printed_) || decile > last_decile_) {
    last_decile_ = decile;
    last_printed_ = done_;
    out_ << label_ << ": " << numbers << ", " << format_duration(elapsed) << " elapsed\n";
    out_.flush();
  }
}

}  // namespace pleura::data
