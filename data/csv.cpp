// CSV line reading helpers (see csv.h).
#include "data/csv.h"

#include <charconv>

#include "engine/error.h"
#include "engine/file_io.h"

namespace pleura::data {

std::vector<CsvLine> split_csv_lines(std::string_view text) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
    text.remove_prefix(3);
  }
  std::vector<CsvLine> lines;
  int64_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++number;
    if (!trim(line).empty()) lines.push_back({number, std::string(line)});
    pos = end + 1;
  }
  return lines;
}

std::vector<CsvLine> read_csv_lines(const std::string& path) { return split_csv_lines(read_file(path)); }

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (true) {
    size_t comma = line.find(',', pos);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(pos));
      return fields;
    }
    fields.push_back(line.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool parse_nonnegative(std::string_view s, int64_t max_value, int64_t& value) {
  if (s.empty() || s.front() < '0' || s.front() > '9') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() && value <= max_value;
}

void check_image_id(std::string_view id, const std::string& where) {
  PLEURA_CHECK(!id.empty(), where, ": empty ImageId");
  PLEURA_CHECK(id.size() <= 200, where, ": ImageId of ", id.size(), " bytes; at most 200 make a file name");
  PLEURA_CHECK(id != "." && id != "..", where, ": ImageId '", id, "' cannot name a file");
  for (const char c : id) {
    PLEURA_CHECK(c != '/' && c != '\\', where, ": ImageId '", id, "' holds '", c,
                 "': ImageIds name files inside their folder, so a path is not one");
    PLEURA_CHECK(c != ',', where, ": ImageId '", id, "' holds a comma, which the CSV files cannot carry");
    PLEURA_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, where, ": ImageId holds the control character ",
                 static_cast<int>(static_cast<unsigned char>(c)));
  }
}

}  // namespace pleura::data
