// Strict parsing over CLI11, its messages, and the --help layout (see command_line.h).
#include "tools/command_line.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <functional>

namespace pleura::tools {

namespace {

bool is_flag(const CLI::Option& opt) { return opt.get_items_expected_max() == 0; }
bool is_repeatable(const CLI::Option& opt) { return opt.get_items_expected_max() > 1; }

// "--name=value" -> "--name"; anything else unchanged.
std::string option_word(const std::string& arg) {
  if (arg.rfind("--", 0) != 0) return arg;
  return arg.substr(0, arg.find('='));
}

// What CLI11 allows and the tools do not: a flag given twice or given a value, a repeatable option taking
// several words at once (--probs a b).
void make_strict(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (is_flag(*opt)) {
      opt->multi_option_policy(CLI::MultiOptionPolicy::Throw);
      opt->disable_flag_override();
    } else {
      opt->allow_extra_args(false);
    }
  }
}

// Before CLI11 parses: "--help" / "-h" anywhere; "--flag=value" (which CLI11 reads as true or false); and
// "--name=" (after which CLI11 takes the next word as the value).
Parsed scan_before_parsing(const CLI::App& app, const std::vector<std::string>& args) {
  for (const std::string& arg : args)
    if (arg == "--help" || arg == "-h") return Parsed::kHelp;
  for (const std::string& arg : args) {
    const size_t equals = arg.find('=');
    if (arg.rfind("--", 0) != 0 || equals == std::string::npos) continue;
    const CLI::Option* opt = app.get_option_no_throw(option_word(arg));
    if (opt == nullptr || opt->get_positional()) continue;
    if (is_flag(*opt)) throw UsageError(cat("option ", opt->get_name(), " takes no value"));
    if (equals + 1 == arg.size()) throw UsageError(cat("option ", opt->get_name(), " has an empty value"));
  }
  return Parsed::kRun;
}

// The first option (in declaration order) that `pick` selects, or nullptr.
const CLI::Option* first_option(const CLI::App& app, const std::function<bool(const CLI::Option&)>& pick) {
  for (const CLI::Option* opt : app.get_options())
    if (pick(*opt)) return opt;
  return nullptr;
}

std::string describe_leftover(const std::string& arg) {
  if (arg.size() > 1 && arg[0] == '-') return cat("unknown option ", option_word(arg));
  return cat("unexpected argument '", arg, "'");
}

std::string describe_missing(const CLI::Option& opt) {
  if (opt.get_positional()) return cat("missing argument ", opt.get_name());
  return cat("missing required option ", opt.get_name(), " ", opt.get_type_name());
}

// CLI11 stops at a count mismatch in two cases: an option given twice, or a value missing at the end.
std::string describe_mismatch(const CLI::App& app, const std::vector<std::string>& args, const CLI::Error& e) {
  const CLI::Option* twice =
      first_option(app, [](const CLI::Option& o) { return !o.get_positional() && !is_repeatable(o) && o.count() > 1; });
  if (twice != nullptr) return cat("option ", twice->get_name(), " given twice");
  const CLI::Option* last = args.empty() ? nullptr : app.get_option_no_throw(option_word(args.back()));
  if (last != nullptr && !is_flag(*last))
    return cat("option ", last->get_name(), " needs a value (", last->get_type_name(), ")");
  return e.what();
}

// CLI11 formats a failed check as "NAME: MESSAGE"; int_in and one_of write MESSAGE to follow the name.
std::string describe_invalid(const CLI::App& app, const CLI::Error& e) {
  const std::string what = e.what();
  const size_t colon = what.find(": ");
  const CLI::Option* opt = colon == std::string::npos ? nullptr : app.get_option_no_throw(what.substr(0, colon));
  if (opt == nullptr) return what;
  return cat(opt->get_positional() ? "argument " : "option ", opt->get_name(), " ", what.substr(colon + 2));
}

// A CLI11 parse error as one of the messages of command_line.h. Unknown words are reported first: a
// misspelt option often makes a required one look missing.
std::string describe(const CLI::App& app, const std::vector<std::string>& args, const CLI::ParseError& e) {
  const std::vector<std::string> leftover = app.remaining();
  if (!leftover.empty()) return describe_leftover(leftover.front());
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    const CLI::Option* missing =
        first_option(app, [](const CLI::Option& o) { return o.get_required() && o.count() == 0; });
    if (missing != nullptr) return describe_missing(*missing);
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) return describe_mismatch(app, args, e);
  if (dynamic_cast<const CLI::ValidationError*>(&e) != nullptr) return describe_invalid(app, e);
  return e.what();
}

// Values CLI11 accepts and the tools do not: an empty value, or another option taken as the value
// (--probs --flip).
void check_values(const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    if (is_flag(*opt)) continue;
    for (const std::string& value : opt->results()) {
      if (opt->get_positional()) {
        if (value.empty()) throw UsageError(cat("argument ", opt->get_name(), " is empty"));
      } else if (value.empty()) {
        throw UsageError(cat("option ", opt->get_name(), " has an empty value"));
      } else if (value.rfind("--", 0) == 0) {
        throw UsageError(cat("option ", opt->get_name(), " needs a value (", opt->get_type_name(), "), got the option ",
                             option_word(value)));
      }
    }
  }
}

// The name and metavariable of an option as the usage line and the table show it: "--size N", "SUB.csv".
std::string spelled(const CLI::Option& opt) {
  if (opt.get_positional() || is_flag(opt)) return opt.get_name();
  return cat(opt.get_name(), " ", opt.get_type_name());
}

// "usage: tool A B --x N [--y M] [--z DIR] ...", wrapped before 100 columns under the first word.
std::string usage_line(const CLI::App& app, const std::vector<const CLI::Option*>& positionals,
                       const std::vector<const CLI::Option*>& options) {
  std::vector<std::string> words;
  for (const CLI::Option* opt : positionals)
    words.push_back(opt->get_required() ? spelled(*opt) : cat("[", spelled(*opt), "]"));
  for (const CLI::Option* opt : options) {
    std::string word = opt->get_required() ? spelled(*opt) : cat("[", spelled(*opt), "]");
    if (is_repeatable(*opt)) word += " ...";
    words.push_back(word);
  }
  std::string text = cat("usage: ", app.get_name());
  const size_t indent = text.size() + 1;
  size_t line_start = 0;
  for (const std::string& word : words) {
    if (text.size() - line_start + 1 + word.size() > 100) {
      text += "\n" + std::string(indent - 1, ' ');
      line_start = text.size() - (indent - 1);
    }
    text += " " + word;
  }
  return text + "\n";
}

std::string notes(const CLI::Option& opt) {
  if (opt.get_positional()) return "";
  if (opt.get_required() && is_repeatable(opt)) return " (required, repeatable)";
  if (opt.get_required()) return " (required)";
  if (is_repeatable(opt)) return " (repeatable)";
  return "";
}

}  // namespace

Parsed parse_command_line(CLI::App& app, const std::vector<std::string>& args) {
  make_strict(app);
  if (scan_before_parsing(app, args) == Parsed::kHelp) return Parsed::kHelp;
  try {
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));  // CLI11 takes them last first
  } catch (const CLI::ParseError& e) {
    throw UsageError(describe(app, args, e));
  }
  check_values(app);
  return Parsed::kRun;
}

CLI::Validator int_in(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        int64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size()) {
          return cat("expects an integer in ", lo, "..", hi, ", got '", text, "'");
        }
        if (v < lo || v > hi) return cat("is ", v, ", expected ", lo, "..", hi);
        return "";
      },
      "");
}

CLI::Validator one_of(std::vector<std::string> choices) {
  return CLI::Validator(
      [choices](std::string& text) -> std::string {
        if (std::find(choices.begin(), choices.end(), text) != choices.end()) return "";
        std::string expected;
        for (size_t i = 0; i < choices.size(); ++i) {
          expected += i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ";
          expected += choices[i];
        }
        return cat("is '", text, "', expected ", expected);
      },
      "");
}

std::string help_text(const CLI::App& app, const std::string& summary) {
  std::vector<const CLI::Option*> positionals, options;
  for (const CLI::Option* opt : app.get_options()) (opt->get_positional() ? positionals : options).push_back(opt);
  // One table: the names in one column as wide as the longest, then the help.
  std::vector<std::pair<std::string, std::string>> rows;
  for (const CLI::Option* opt : positionals) rows.emplace_back(spelled(*opt), opt->get_description());
  for (const CLI::Option* opt : options) rows.emplace_back(spelled(*opt), opt->get_description() + notes(*opt));
  rows.emplace_back("--help", "this text");
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  auto table_row = [&](const std::pair<std::string, std::string>& row) {
    return cat("  ", row.first, std::string(width - row.first.size() + 2, ' '), row.second, "\n");
  };
  std::string text = usage_line(app, positionals, options) + "\n" + summary + "\n";
  if (!positionals.empty()) text += "\narguments:\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i == positionals.size()) text += "\noptions:\n";
    text += table_row(rows[i]);
  }
  return text;
}

void check_output_file(const std::string& option, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) throw UsageError(cat(option, " '", path, "' is a folder, expected a file name"));
  const fs::path parent = fs::absolute(path).parent_path();
  if (!fs::is_directory(parent, error)) {
    throw UsageError(cat(option, " '", path, "': its folder ", parent.string(),
                         " does not exist (create it, or write elsewhere)"));
  }
}

bool same_path(const std::string& a, const std::string& b) {
  auto normal = [](const std::string& p) {
    std::filesystem::path n = std::filesystem::weakly_canonical(std::filesystem::absolute(p));
    return n.has_filename() ? n : n.parent_path();  // "out/" is "out"
  };
  return normal(a) == normal(b);
}

}  // namespace pleura::tools
