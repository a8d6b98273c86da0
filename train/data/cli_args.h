// Strict command-line parsing for the data tools (prepare_data, make_demo_data): `--name value` or
// `--name=value`, every option at most once, flags take no value, and an unknown option, a missing or
// extra value, a positional argument or a malformed number is a UsageError naming it. Tests:
// tests/tools/test_prepare_data.cpp and test_make_demo_data.cpp exercise it through the tools.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
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

  // Parses args (without the program name). "--help" or "-h" anywhere sets help_requested() and
  // skips every other check.
  void parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string value(const std::string& name, const std::string& fallback = "") const;
  // An integer option within [lo, hi], or `fallback` when absent.
  int64_t int_value(const std::string& name, int64_t lo, int64_t hi, int64_t fallback) const;
  std::string usage() const;

 private:
  struct Spec {
    std::string metavar, help;
    bool takes_value = false, required = false;
  };
  std::string program_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

}  // namespace pleura::data
