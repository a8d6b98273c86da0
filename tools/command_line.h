// Strict command lines over CLI11 for every tool (the runner, tools/runner.h, calls these): `--name value`
// or `--name=value`, every option at most once unless it is repeatable (a vector), flags take no value,
// positional arguments only where declared. Every mistake is a UsageError naming the option or argument,
// the value seen and what was expected. Also the --help text, one layout for every tool.
// Tests: tests/tools/test_runner.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.h"

namespace pleura::tools {

// A mistake on the command line: the runner prints it with a hint to --help and exits with status 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

// Runs fn; a pleura::Error it throws (a value a library function rejected: a device name, a triplet) becomes
// a UsageError with the same message.
template <class Fn>
auto as_usage(Fn&& fn) {
  try {
    return fn();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

enum class Parsed { kRun, kHelp };

// Parses `args` (without the program name) into the options declared on `app`. "--help" or "-h" anywhere
// returns kHelp before any other check. Throws UsageError, with these messages:
//   unknown option --colour               unexpected argument 'extra'
//   missing required option --out DIR      missing argument SUB.csv
//   option --out needs a value (DIR)       option --out given twice
//   option --json takes no value           option --out has an empty value
//   option --size expects an integer in 1..16384, got '12x'     option --size is 0, expected 1..16384
// (the last two from int_in; one_of's reads "option --rle is 'zig', expected siim or standard").
Parsed parse_command_line(CLI::App& app, const std::vector<std::string>& args);

// Checks for CLI::Option::check(). int_in: a whole decimal integer (no sign '+', no spaces) in [lo, hi].
// one_of: one of `choices`, spelled exactly.
CLI::Validator int_in(int64_t lo, int64_t hi);
CLI::Validator one_of(std::vector<std::string> choices);

// True when two paths name the same folder or file, existing or not ("out", "./out/" and its absolute path
// do): for options that must not point at another option's folder.
bool same_path(const std::string& a, const std::string& b);

// Before any work: a file option's folder must exist and the path must not be a folder, so that a long run
// does not fail at its last write. Throws UsageError naming the option.
void check_output_file(const std::string& option, const std::string& path);

// The --help text: the usage line (wrapped), `summary`, then one table of the positional arguments and the
// options, each with its metavariable (Option::type_name), its help and "(required)" / "(repeatable)".
std::string help_text(const CLI::App& app, const std::string& summary);

}  // namespace pleura::tools
