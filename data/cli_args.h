// Strict command-line parsing for the tools: `--name value` or `--name=value`, every option at most once
// (unless declared repeatable), flags take no value, positional arguments only where declared, and an
// unknown option, a missing or extra value, a missing or extra positional argument or a malformed number
// is a UsageError naming it. Tests: tests/data/test_cli_args.cpp, and the tools' tests in tests/tools/.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.h"

namespace pleura::data {

// A mistake on the command line (the tools print usage hints and exit with status 2).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

class ArgParser {
 public:
  ArgParser(std::string program, std::string summary);
  // An option with a value; `metavar` names it in the usage text.
  void add_value(const std::string& name, const std::string& metavar, const std::string& help, bool required = false);
  void add_flag(const std::string& name, const std::string& help);
  // An option that may be given several times (values() returns them in command-line order).
  void add_repeated(const std::string& name, const std::string& metavar, const std::string& help,
                    bool required = false);
  // A required positional argument; positionals are matched in the order they are added.
  void add_positional(const std::string& metavar, const std::string& help);

  // Parses args (without the program name). "--help" or "-h" anywhere sets help_requested() and
  // skips every other check.
  void parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // The (last) value of an option, or `fallback` when absent.
  std::string value(const std::string& name, const std::string& fallback = "") const;
  // Every value of an option, in order (empty when absent).
  std::vector<std::string> values(const std::string& name) const;
  // Positional argument i (0-based, in the order of add_positional).
  const std::string& positional(size_t i) const { return positionals_.at(i); }
  // An integer option within [lo, hi], or `fallback` when absent.
  int64_t int_value(const std::string& name, int64_t lo, int64_t hi, int64_t fallback) const;
  std::string usage() const;

 private:
  struct Spec {
    std::string metavar, help;
    bool takes_value = false, required = false, repeated = false;
  };
  std::string program_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::pair<std::string, std::string>> positional_specs_;  // metavar, help
  std::vector<std::string> positionals_;
  bool help_ = false;
};

}  // namespace pleura::data
