// IniFile (ini.h).
#include "train/ini.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

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
  PLEURA_CHECK(!text.empty() && *end == '\0' && errno == 0, where, ": '", text, "' is not a number");
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

IniFile IniFile::parse(const std::string& text, const std::string& file_name) {
  IniFile ini;
  ini.file_name_ = file_name;
  std::stringstream ss(text);
  std::string line, section;
  int number = 0;
  while (std::getline(ss, line)) {
    ++number;
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line = line.substr(3);  // UTF-8 BOM
    std::string t = trim(line);
    std::string where = cat(file_name, ":", number);
    if (t.empty() || t[0] == ';' || t[0] == '#') continue;
    if (t[0] == '[') {
      PLEURA_CHECK(t.back() == ']', where, ": malformed section header '", t, "'");
      section = trim(t.substr(1, t.size() - 2));
      PLEURA_CHECK(valid_name(section), where, ": bad section name '", section, "'");
      PLEURA_CHECK(!ini.section_lines_.count(section), where, ": section [", section, "] repeated (first at ",
                   ini.section_lines_[section], ")");
      ini.section_lines_[section] = where;
      ini.sections_[section];
      continue;
    }
    size_t eq = t.find('=');
    PLEURA_CHECK(eq != std::string::npos, where, ": expected 'key = value', got '", t, "'");
    PLEURA_CHECK(!section.empty(), where, ": key outside any [section]");
    std::string key = trim(t.substr(0, eq)), val = trim(t.substr(eq + 1));
    PLEURA_CHECK(valid_name(key), where, ": bad key name '", key, "'");
    auto& keys = ini.sections_[section];
    PLEURA_CHECK(!keys.count(key), where, ": [", section, "] ", key, " repeated (first at ", keys[key].where, ")");
    keys[key] = {val, where};
  }
  return ini;
}

IniFile IniFile::load(const std::string& path) { return parse(read_file(path), path); }

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
