// IniFile (ini.h): lines are checked and counted here and split into key and value by inih (Debian's
// libinih). Tests: tests/train/test_ini.cpp.
#include "train/ini.h"

#include <ini.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "engine/error.h"
#include "engine/file_io.h"

namespace pleura {

namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

// The lines of a file, without the UTF-8 byte order mark, trimmed: inih (built with INI_ALLOW_MULTILINE)
// would read an indented line as the continuation of the previous value.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (lines.empty() && line.rfind("\xEF\xBB\xBF", 0) == 0) line = line.substr(3);
    lines.push_back(trim(line));
  }
  return lines;
}

std::vector<std::string> split_list(const std::string& text, const std::string& where) {
  std::vector<std::string> items;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    PLEURA_CHECK(!item.empty(), where, ": empty item in list '", text, "'");
    items.push_back(item);
  }
  PLEURA_CHECK(!items.empty(), where, ": empty list");
  return items;
}

double parse_double(const std::string& text, const std::string& where) {
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  const bool whole = !text.empty() && *end == '\0';
  PLEURA_CHECK(!(whole && errno == ERANGE), where, ": '", text, "' is out of the range of a double");
  PLEURA_CHECK(whole && errno == 0, where, ": '", text, "' is not a number");
  return v;
}

int64_t parse_int(const std::string& text, const std::string& where) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  PLEURA_CHECK(!text.empty() && *end == '\0' && errno == 0, where, ": '", text, "' is not an integer");
  return v;
}

}  // namespace

// The state inih's two callbacks share while one text is parsed. inih calls them through C function
// pointers, so neither may throw: the first error is kept here and thrown once ini_parse_stream returns.
struct IniFile::Parser {
  Parser(IniFile& ini, std::vector<std::string> lines) : ini(ini), lines(std::move(lines)) {}
  IniFile& ini;
  std::vector<std::string> lines;  // trimmed, without the BOM
  size_t line_number = 0;          // inih calls the reader once per line: the line being parsed
  std::string section;             // the current section, as read_line saw its header
  size_t error_line = 0;
  std::string error;

  std::string where() const { return cat(ini.file_name_, ":", line_number); }
  void fail(const std::string& message) {
    if (!error.empty()) return;
    error = message;
    error_line = line_number;
  }
  bool read_line(char* buffer, int size);
  std::string check_line(const std::string& line, size_t size);
  std::string begin_section(const std::string& line);
  void add_key(const std::string& key, const std::string& value);
};

// Hands inih the next line (inih's ini_reader, called once per line: the line count stays exact
// although Debian's inih is built without INI_HANDLER_LINENO). Stops at the first error.
bool IniFile::Parser::read_line(char* buffer, int size) {
  if (!error.empty() || line_number == lines.size()) return false;
  try {
    const std::string text = check_line(lines[line_number++], static_cast<size_t>(size));
    if (!error.empty()) return false;
    text.copy(buffer, text.size());
    buffer[text.size()] = '\0';
    return true;
  } catch (const std::exception& e) {
    fail(cat(where(), ": ", e.what()));
    return false;
  }
}

// The text inih gets for one line, or "" after fail(). inih (Debian's build: multiline values, inline
// ';' comments, ':' as well as '=', no handler call on section headers, 200-byte lines) accepts more
// than this reader always has, or reads it differently: the checks here keep today's syntax.
std::string IniFile::Parser::check_line(const std::string& line, size_t size) {
  // Comments and blank lines: inih skips them; only their first size - 1 bytes fit its buffer.
  if (line.empty() || line[0] == ';' || line[0] == '#') return line.substr(0, size - 1);
  // inih reports no section header to the handler (and keeps 50 bytes of a section name), so headers
  // are read here; inih gets the header back in normal form.
  const std::string text = line[0] == '[' ? begin_section(line) : line;
  if (!error.empty()) return "";
  // inih also splits at ':' (Python configparser's other separator); here a ':' is part of the key.
  const size_t eq = text.find('='), colon = text.find(':');
  if (colon < eq && eq == std::string::npos) fail(cat(where(), ": expected 'key = value', got '", text, "'"));
  if (colon < eq && eq != std::string::npos) fail(cat(where(), ": bad key name '", trim(text.substr(0, eq)), "'"));
  // inih cuts a value at a ';' after a space (an inline comment); here that ';' would belong to the value.
  for (size_t i = 1; i < text.size() && error.empty(); ++i)
    if (text[i] == ';' && std::isspace(static_cast<unsigned char>(text[i - 1])))
      fail(cat(where(), ": ';' after a space: inline comments are not supported (comments go on lines of their own), "
                        "got '", text, "'"));
  if (text.size() > size - 1)
    fail(cat(where(), ": line of ", text.size(), " characters; inih reads at most ", size - 1, " per line"));
  return error.empty() ? text : "";
}

// Checks and records the header "[name]" of a new section; returns it in normal form ("[ a ]" -> "[a]").
std::string IniFile::Parser::begin_section(const std::string& line) {
  const std::string name = trim(line.substr(1, line.size() - 2));
  const auto first = ini.section_lines_.find(name);
  if (line.back() != ']') {
    fail(cat(where(), ": malformed section header '", line, "'"));
  } else if (!valid_name(name)) {
    fail(cat(where(), ": bad section name '", name, "'"));
  } else if (first != ini.section_lines_.end()) {
    fail(cat(where(), ": section [", name, "] repeated (first at ", first->second, ")"));
  }
  if (!error.empty()) return "";
  section = name;
  ini.section_lines_[section] = where();
  ini.sections_[section];
  return "[" + section + "]";
}

// One "key = value" line, as inih split it (inih's ini_handler). The section is read_line's: the one
// inih passes is the same name, cut to 50 bytes.
void IniFile::Parser::add_key(const std::string& key, const std::string& value) {
  if (section.empty()) {
    fail(cat(where(), ": key outside any [section]"));
    return;
  }
  // inih strips every isspace() character around key and value, this reader ' ', '\t' and '\r' alone
  // (in "x = \v1" inih reads the value "1", where this reader has always read "\v1"): such lines are
  // refused.
  const std::string& line = lines[line_number - 1];
  const size_t eq = line.find('=');
  if (eq == std::string::npos || key != trim(line.substr(0, eq)) || value != trim(line.substr(eq + 1))) {
    fail(cat(where(), ": '", line, "' is not a plain 'key = value' line (stray whitespace characters?)"));
    return;
  }
  auto& keys = ini.sections_.at(section);
  const auto first = keys.find(key);
  if (!valid_name(key)) {
    fail(cat(where(), ": bad key name '", key, "'"));
  } else if (first != keys.end()) {
    fail(cat(where(), ": [", section, "] ", key, " repeated (first at ", first->second.where, ")"));
  } else {
    keys.emplace(key, Value{value, where()});
  }
}

IniFile IniFile::parse(const std::string& text, const std::string& file_name) {
  IniFile ini;
  ini.file_name_ = file_name;
  Parser parser(ini, split_lines(text));
  const ini_reader reader = [](char* buffer, int size, void* state) -> char* {
    return static_cast<Parser*>(state)->read_line(buffer, size) ? buffer : nullptr;
  };
  const ini_handler handler = [](void* state, const char*, const char* key, const char* value) -> int {
    auto* p = static_cast<Parser*>(state);
    try {
      p->add_key(key, value);
    } catch (const std::exception& e) {
      p->fail(cat(p->where(), ": ", e.what()));
    }
    return p->error.empty();
  };
  const int first_error = ini_parse_stream(reader, &parser, handler, &parser);
  PLEURA_CHECK(first_error >= 0, file_name, ": inih failed (code ", first_error, ")");
  // inih numbers lines as read_line does; it reports a line without '=' (and the handler's refusals).
  const size_t line = static_cast<size_t>(first_error);
  PLEURA_CHECK(line == 0 || (!parser.error.empty() && parser.error_line <= line), file_name, ":", line,
               ": expected 'key = value', got '", parser.lines[line - 1], "'");
  PLEURA_CHECK(parser.error.empty(), parser.error);
  return ini;
}

IniFile IniFile::load(const std::string& path) {
  require_file(path, "configuration file");
  return parse(read_file(path), path);
}

void IniFile::set_override(const std::string& assignment) {
  size_t dot = assignment.find('.'), eq = assignment.find('=');
  PLEURA_CHECK(dot != std::string::npos && eq != std::string::npos && dot < eq, "--set '", assignment,
               "': expected section.key=value");
  std::string section = trim(assignment.substr(0, dot)), key = trim(assignment.substr(dot + 1, eq - dot - 1));
  PLEURA_CHECK(valid_name(section) && valid_name(key), "--set '", assignment, "': bad section or key name");
  sections_[section][key] = {trim(assignment.substr(eq + 1)), "--set " + section + "." + key};
  if (!section_lines_.count(section)) section_lines_[section] = "--set";
}

bool IniFile::has(const std::string& section, const std::string& key) const {
  auto s = sections_.find(section);
  return s != sections_.end() && s->second.count(key);
}

bool IniFile::has_section(const std::string& section) const { return sections_.count(section) > 0; }

const IniFile::Value& IniFile::value(const std::string& section, const std::string& key) const {
  auto s = sections_.find(section);
  PLEURA_CHECK(s != sections_.end(), file_name_, ": missing section [", section, "] (needed for ", key, ")");
  auto k = s->second.find(key);
  PLEURA_CHECK(k != s->second.end(), file_name_, ": [", section, "] lacks the required key '", key, "' (section at ",
               section_lines_.at(section), ")");
  used_.insert(section + "." + key);
  return k->second;
}

std::string IniFile::where(const std::string& section, const std::string& key) const {
  if (!has(section, key)) return cat(file_name_, ": [", section, "] ", key);
  return cat(sections_.at(section).at(key).where, ": [", section, "] ", key);
}

std::string IniFile::get_string(const std::string& s, const std::string& k) const { return value(s, k).text; }
std::string IniFile::get_string(const std::string& s, const std::string& k, const std::string& fallback) const {
  return has(s, k) ? get_string(s, k) : fallback;
}
double IniFile::get_double(const std::string& s, const std::string& k) const {
  return parse_double(value(s, k).text, where(s, k));
}
double IniFile::get_double(const std::string& s, const std::string& k, double fallback) const {
  return has(s, k) ? get_double(s, k) : fallback;
}
int64_t IniFile::get_int(const std::string& s, const std::string& k) const {
  return parse_int(value(s, k).text, where(s, k));
}
int64_t IniFile::get_int(const std::string& s, const std::string& k, int64_t fallback) const {
  return has(s, k) ? get_int(s, k) : fallback;
}
bool IniFile::get_bool(const std::string& s, const std::string& k) const {
  const std::string& t = value(s, k).text;
  if (t == "true" || t == "yes" || t == "1" || t == "on") return true;
  if (t == "false" || t == "no" || t == "0" || t == "off") return false;
  throw_error(cat(where(s, k), ": '", t, "' is not a boolean (true/false, yes/no, 1/0, on/off)"));
}
bool IniFile::get_bool(const std::string& s, const std::string& k, bool fallback) const {
  return has(s, k) ? get_bool(s, k) : fallback;
}
std::vector<double> IniFile::get_doubles(const std::string& s, const std::string& k) const {
  std::vector<double> out;
  for (const std::string& item : split_list(value(s, k).text, where(s, k))) out.push_back(parse_double(item, where(s, k)));
  return out;
}
std::vector<int64_t> IniFile::get_ints(const std::string& s, const std::string& k) const {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(value(s, k).text, where(s, k))) out.push_back(parse_int(item, where(s, k)));
  return out;
}
std::vector<std::string> IniFile::get_strings(const std::string& s, const std::string& k) const {
  return split_list(value(s, k).text, where(s, k));
}

void IniFile::check_all_used() const {
  std::vector<std::string> unknown;
  for (const auto& [section, keys] : sections_) {
    bool any = false;
    for (const auto& [key, v] : keys) {
      if (used_.count(section + "." + key)) {
        any = true;
      } else {
        unknown.push_back(cat(v.where, ": unknown key [", section, "] ", key));
      }
    }
    if (!any && keys.empty()) unknown.push_back(cat(section_lines_.at(section), ": unknown or empty section [", section, "]"));
  }
  if (unknown.empty()) return;
  std::string msg = cat(file_name_, ": ", unknown.size(), " unknown setting(s):");
  for (const auto& u : unknown) msg += "\n  " + u;
  throw_error(msg);
}

}  // namespace pleura
