// Tests of train/ini.h: parsing, typed values, overrides, and errors with file:line.
#include "train/ini.h"

#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("ini: sections, typed values, lists, comments, overrides") {
  IniFile ini = IniFile::parse(
      "\xEF\xBB\xBF; a comment\n[optim]\nlr = 1e-4\nweight_decay=0.0001\n# another\n[data]\nsize = 512\nfolds = 0, 1,2\n"
      "name = albunet_valid\nflip = yes\ntops = 0.75, 0.6\n",
      "a.ini");
  CHECK(ini.get_double("optim", "lr") == 1e-4);
  CHECK(ini.get_double("optim", "weight_decay") == 0.0001);
  CHECK(ini.get_int("data", "size") == 512);
  CHECK(ini.get_ints("data", "folds") == std::vector<int64_t>{0, 1, 2});
  CHECK(ini.get_string("data", "name") == "albunet_valid");
  CHECK(ini.get_bool("data", "flip"));
  CHECK(ini.get_doubles("data", "tops") == std::vector<double>{0.75, 0.6});
  CHECK(ini.get_int("data", "missing", 7) == 7);
  ini.set_override("optim.lr=3e-5");
  CHECK(ini.get_double("optim", "lr") == 3e-5);
  ini.check_all_used();
}

TEST_CASE("ini: errors name the file and line") {
  expect_error([] { IniFile::parse("[a]\nx = 1\nbroken line\n", "c.ini"); }, {"c.ini:3", "expected 'key = value'"});
  expect_error([] { IniFile::parse("x = 1\n", "c.ini"); }, {"c.ini:1", "outside any [section]"});
  expect_error([] { IniFile::parse("[a]\nx = 1\nx = 2\n", "c.ini"); }, {"c.ini:3", "repeated", "c.ini:2"});
  expect_error([] { IniFile::parse("[a\n", "c.ini"); }, {"c.ini:1", "malformed section"});
  IniFile ini = IniFile::parse("[optim]\nlr = fast\nsteps = 1.5\nflag = maybe\nlist = 1,,2\n", "d.ini");
  expect_error([&] { ini.get_double("optim", "lr"); }, {"d.ini:2", "[optim] lr", "'fast' is not a number"});
  // A number too large (or too small) for a double is named as such, not as "not a number".
  IniFile huge = IniFile::parse("[optim]\nlr = 1e400\ntiny = 1e-400\n", "h.ini");
  expect_error([&] { huge.get_double("optim", "lr"); }, {"h.ini:2", "'1e400' is out of the range of a double"});
  expect_error([&] { huge.get_double("optim", "tiny"); }, {"h.ini:3", "'1e-400' is out of the range of a double"});
  expect_error([&] { ini.get_int("optim", "steps"); }, {"d.ini:3", "not an integer"});
  expect_error([&] { ini.get_bool("optim", "flag"); }, {"d.ini:4", "not a boolean"});
  expect_error([&] { ini.get_ints("optim", "list"); }, {"d.ini:5", "empty item"});
  expect_error([&] { ini.get_double("optim", "absent"); }, {"d.ini", "[optim] lacks the required key 'absent'"});
  expect_error([&] { ini.get_double("nosuch", "x"); }, {"missing section [nosuch]"});
  expect_error([&] { ini.set_override("lr=1"); }, {"--set 'lr=1'", "section.key=value"});
}

TEST_CASE("ini: keys nobody read are reported as unknown, with their lines") {
  IniFile ini = IniFile::parse("[optim]\nlr = 1\nlrr = 2\n[typo_section]\nx = 1\n", "e.ini");
  ini.get_double("optim", "lr");
  expect_error([&] { ini.check_all_used(); }, {"2 unknown setting(s)", "e.ini:3: unknown key [optim] lrr",
                                               "e.ini:5: unknown key [typo_section] x"});
}

TEST_CASE("ini: the first error wins, whether inih or the line checks find it") {
  expect_error([] { IniFile::parse("[a]\nbroken\nx = 1\nx = 2\n", "c.ini"); }, {"c.ini:2: expected 'key = value'"});
  expect_error([] { IniFile::parse("[a]\nx = 1\nx = 2\nbroken\n", "c.ini"); }, {"c.ini:3: [a] x repeated"});
  expect_error([] { IniFile::parse("; c\n\n[a]\nx = 1\n[b]\n[a]\n", "c.ini"); },
               {"c.ini:6: section [a] repeated (first at c.ini:3)"});
}

TEST_CASE("ini: what inih alone would read differently keeps its meaning here") {
  // An indented line is a key of its own (inih: the previous value's continuation); headers are trimmed;
  // ';' and '#' with no space before them belong to the value; CRLF endings; an empty value.
  IniFile ini = IniFile::parse("[a]\r\nx = 1\r\n  y = 2\r\n[ b ]\r\nz = 3;4\r\nw = #5\r\nv =\r\n", "f.ini");
  CHECK(ini.get_string("a", "x") == "1");
  CHECK(ini.get_string("a", "y") == "2");
  CHECK(ini.where("a", "y") == "f.ini:3: [a] y");
  CHECK(ini.get_string("b", "z") == "3;4");
  CHECK(ini.get_string("b", "w") == "#5");
  CHECK(ini.get_string("b", "v").empty());
  CHECK(ini.where("b", "v") == "f.ini:7: [b] v");
  expect_error([] { IniFile::parse("[a]\nx = 1 ; note\n", "g.ini"); },
               {"g.ini:2", "inline comments are not supported", "'x = 1 ; note'"});
  expect_error([] { IniFile::parse("[a]\nx: 1\n", "g.ini"); }, {"g.ini:2: expected 'key = value', got 'x: 1'"});
  expect_error([] { IniFile::parse("[a]\nx:y = 1\n", "g.ini"); }, {"g.ini:2: bad key name 'x:y'"});
  expect_error([] { IniFile::parse("[a] ; note\n", "g.ini"); }, {"g.ini:1: malformed section header '[a] ; note'"});
  expect_error([] { IniFile::parse("[a b]\n", "g.ini"); }, {"g.ini:1: bad section name 'a b'"});
  // inih would strip the vertical tab and read "1", where this reader has always read "\v1": refused.
  expect_error([] { IniFile::parse("[a]\nx = \v1\n", "g.ini"); }, {"g.ini:2", "not a plain 'key = value' line"});
}

TEST_CASE("ini: long lines, long section names and empty sections") {
  // inih reads lines into 200 bytes: a longer comment is still skipped, a longer setting is an error.
  const std::string section(60, 's');  // inih keeps 50 bytes of a section name; this reader keeps all
  IniFile ini = IniFile::parse("; " + std::string(300, 'c') + "\n[" + section + "]\nk = 7\n[empty]\n", "h.ini");
  CHECK(ini.get_int(section, "k") == 7);
  CHECK(ini.where(section, "k") == "h.ini:3: [" + section + "] k");
  CHECK(ini.has_section("empty"));
  expect_error([&] { ini.check_all_used(); }, {"h.ini:4: unknown or empty section [empty]"});
  const std::string fits = "x = " + std::string(195, 'v');
  CHECK(IniFile::parse("[a]\n" + fits + "\n", "h.ini").get_string("a", "x") == std::string(195, 'v'));
  expect_error([&] { IniFile::parse("[a]\n" + fits + "v\n", "h.ini"); },
               {"h.ini:2: line of 200 characters; inih reads at most 199 per line"});
}
