// A strict INI reader for the tools' configuration files: [section] headers, key = value lines,
// comments on lines of their own starting with ';' or '#', and "--set section.key=value" overrides.
// inih (Debian's libinih) splits the lines; ini.cpp counts them and keeps inih from accepting what
// this reader never has (continuation lines, inline comments, ':' for '='). Every value remembers
// its file and line, so that errors read "config.ini:12: [optim] lr: 'abc' is not a number". A reader
// that takes a key marks it used; unused keys and sections are reported as unknown (typos never pass).
// Tests: tests/train/test_ini.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pleura {

class IniFile {
 public:
  struct Value {
    std::string text;
    std::string where;  // "file:line" or "--set"
  };

  static IniFile parse(const std::string& text, const std::string& file_name);
  static IniFile load(const std::string& path);
  // "section.key=value"; replaces or adds.
  void set_override(const std::string& assignment);

  bool has(const std::string& section, const std::string& key) const;
  bool has_section(const std::string& section) const;
  // Typed access; a missing key without a default, or a malformed value, throws with file:line.
  std::string get_string(const std::string& section, const std::string& key) const;
  std::string get_string(const std::string& section, const std::string& key, const std::string& fallback) const;
  double get_double(const std::string& section, const std::string& key) const;
  double get_double(const std::string& section, const std::string& key, double fallback) const;
  int64_t get_int(const std::string& section, const std::string& key) const;
  int64_t get_int(const std::string& section, const std::string& key, int64_t fallback) const;
  bool get_bool(const std::string& section, const std::string& key) const;
  bool get_bool(const std::string& section, const std::string& key, bool fallback) const;
  // Comma-separated lists; empty items are errors.
  std::vector<double> get_doubles(const std::string& section, const std::string& key) const;
  std::vector<int64_t> get_ints(const std::string& section, const std::string& key) const;
  std::vector<std::string> get_strings(const std::string& section, const std::string& key) const;

  // Throws naming every section or key no getter asked for (call after reading everything).
  void check_all_used() const;
  const std::string& file_name() const { return file_name_; }
  // "file:line: [section] key" for messages about a value's meaning.
  std::string where(const std::string& section, const std::string& key) const;

 private:
  struct Parser;  // the state of parse() that inih's callbacks share (ini.cpp)
  const Value& value(const std::string& section, const std::string& key) const;
  std::string file_name_;
  std::map<std::string, std::map<std::string, Value>> sections_;
  std::map<std::string, std::string> section_lines_;
  mutable std::set<std::string> used_;  // "section.key"
};

}  // namespace pleura
