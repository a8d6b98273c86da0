// CSV logs, the run log and the progress display (train/train_log.h).
#include "train/train_log.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "engine/error.h"
#include "engine/file_io.h"

namespace pleura {

namespace {

std::string join(const std::vector<std::string>& fields) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& f = fields[i];
    if (i) s.push_back(',');
    if (f.find_first_of(",\"\n") == std::string::npos) {
      s.append(f);
      continue;
    }
    s.push_back('"');
    for (char c : f) {
      if (c == '"') s.push_back('"');  // a quote inside quotes is doubled
      s.push_back(c);
    }
    s.push_back('"');
  }
  return s;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out(1);
  bool in_quotes = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%02lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return buf;
}

}  // namespace

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  // Python's repr: the shortest digits that read back, fixed notation for exponents -4..15, else
  // scientific with a signed two-digit exponent.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);
  const size_t e = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  const int exponent = std::stoi(sci.substr(e + 1));
  std::string out;
  if (negative) out.push_back('-');
  if (exponent >= -4 && exponent < 16) {
    const size_t point = static_cast<size_t>(exponent + 1);  // digits before the decimal point
    if (exponent < 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out.append(digits);
    } else if (digits.size() <= point) {
      out.append(digits);
      out.append(point - digits.size(), '0');
      out.append(".0");
    } else {
      out.append(digits, 0, point);
      out.push_back('.');
      out.append(digits, point, std::string::npos);
    }
  } else {
    out.append(digits, 0, 1);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    char exp[16];
    std::snprintf(exp, sizeof(exp), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
  }
  return out;
}

std::string triplet_label(const Triplet& t) {
  std::string s(1, '(');
  s.append(format_number(t.top)).append(", ").append(std::to_string(t.min_area)).append(", ");
  s.append(format_number(t.bottom)).push_back(')');
  return s;
}

CsvLog::CsvLog(std::string path, std::vector<std::string> header)
    : path_(std::move(path)), header_line_(join(header)), header_(std::move(header)) {}

std::vector<std::string> CsvLog::read_rows() const {
  std::vector<std::string> rows;
  if (!std::filesystem::exists(path_)) return rows;
  std::istringstream in(read_file(path_));
  std::string line;
  PLEURA_CHECK(std::getline(in, line) && line == header_line_, "[log] ", path_, " has the header '", line,
               "', this run writes '", header_line_, "' (another grid of triplets? use another output folder)");
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(line);
  return rows;
}

int64_t CsvLog::rows() const { return static_cast<int64_t>(read_rows().size()); }

void CsvLog::truncate(int64_t rows) const {
  if (read_only_) return;
  std::vector<std::string> lines = read_rows();
  if (static_cast<int64_t>(lines.size()) <= rows) return;
  std::string text = header_line_ + "\n";
  for (int64_t i = 0; i < rows; ++i) text += lines[static_cast<size_t>(i)] + "\n";
  write_file_atomic(path_, text);
}

void CsvLog::append(const std::vector<std::string>& fields) const {
  PLEURA_CHECK(fields.size() == header_.size(), "[log] ", path_, ": a row of ", fields.size(), " fields for ",
               header_.size(), " columns");
  if (read_only_) return;
  std::string text = header_line_ + "\n";
  for (const std::string& line : read_rows()) text += line + "\n";
  text += join(fields) + "\n";
  write_file_atomic(path_, text);
}

std::vector<std::string> CsvLog::column(const std::string& name) const {
  size_t index = header_.size();
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) index = i;
  PLEURA_CHECK(index < header_.size(), "[log] ", path_, " has no column '", name, "'");
  std::vector<std::string> out;
  for (const std::string& line : read_rows()) {
    std::vector<std::string> f = split(line);
    out.push_back(index < f.size() ? f[index] : "");
  }
  return out;
}

CsvLog summary_csv(const std::string& path, const std::vector<Triplet>& triplets) {
  std::vector<std::string> header = {"epoch", "best_metric"};
  for (const Triplet& t : triplets) header.push_back(triplet_label(t));
  return CsvLog(path, header);
}

CsvLog metrics_csv(const std::string& path) {
  return CsvLog(path, {"epoch", "train_loss", "lr", "epoch_seconds", "data_wait_share", "best_triplet", "score"});
}

std::optional<double> best_in_summary(const CsvLog& summary) {
  std::optional<double> best;
  for (const std::string& v : summary.column("best_metric")) {
    if (v.empty()) continue;
    const double x = std::strtod(v.c_str(), nullptr);
    if (!best || x > *best) best = x;
  }
  return best;
}

RunLog::RunLog(const std::string& path, std::ostream& out) : out_(out) {
  if (path.empty()) return;  // no file (the data-parallel ranks other than 0)
  file_.open(path, std::ios::app);
  PLEURA_CHECK(file_.good(), "[log] cannot open ", path, " for writing");
}

void RunLog::line(const std::string& text) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  file_ << stamp << "  " << text << "\n";
  file_.flush();
  out_ << text << "\n";
  out_.flush();
}

void RunLog::file_only(const std::string& text) {
  file_ << text;
  if (!text.empty() && text.back() != '\n') file_ << "\n";
  file_.flush();
}

EpochProgress::EpochProgress(std::ostream& out, bool terminal, std::string label, int64_t total, int64_t done)
    : out_(out), terminal_(terminal), label_(std::move(label)), total_(total), done_(done), start_done_(done),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (total_ > 0) last_tenth_ = done_ * 10 / total_;
}

void EpochProgress::advance(const std::string& status) {
  ++done_;
  draw(status, false);
}

void EpochProgress::finish(const std::string& status) { draw(status, true); }

void EpochProgress::draw(const std::string& status, bool final_draw) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t made = done_ - start_done_;
  const double eta = made > 0 ? elapsed / static_cast<double>(made) * static_cast<double>(total_ - done_) : -1.0;
  const std::string counts = cat(done_, "/", total_);
  if (terminal_) {
    if (!final_draw && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    constexpr int kWidth = 24;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
    out_ << "\r" << label_ << " [" << std::string(static_cast<size_t>(filled), '#')
         << std::string(static_cast<size_t>(kWidth - filled), '.') << "] " << counts << " " << status
         << (final_draw ? " in " + clock_text(elapsed) : " ETA " + clock_text(eta)) << "\x1b[K";
    if (final_draw) out_ << "\n";
    out_.flush();
    return;
  }
  const int64_t tenth = total_ > 0 ? done_ * 10 / total_ : 10;
  if (!final_draw && (tenth == last_tenth_ || done_ >= total_)) return;  // the last line is finish()'s
  last_tenth_ = tenth;
  out_ << label_ << " " << counts << " " << status << (final_draw ? " done in " + clock_text(elapsed) : " ETA " + clock_text(eta))
       << "\n";
  out_.flush();
}

}  // namespace pleura
