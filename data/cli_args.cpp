// Strict argument parsing for the data tools (see cli_args.h).
#include "data/cli_args.h"

#include <charconv>

namespace pleura::data {

ArgParser::ArgParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void ArgParser::add_value(const std::string& name, const std::string& metavar, const std::string& help,
                          bool required) {
  specs_[name] = {metavar, help, true, required, false};
  order_.push_back(name);
}

void ArgParser::add_repeated(const std::string& name, const std::string& metavar, const std::string& help,
                             bool required) {
  specs_[name] = {metavar, help, true, required, true};
  order_.push_back(name);
}

void ArgParser::add_positional(const std::string& metavar, const std::string& help) {
  positional_specs_.emplace_back(metavar, help);
}

void ArgParser::add_flag(const std::string& name, const std::string& help) {
  specs_[name] = {"", help, false, false, false};
  order_.push_back(name);
}

void ArgParser::parse(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      help_ = true;
      return;
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      if (arg.rfind("--", 0) != 0 && positionals_.size() < positional_specs_.size()) {
        positionals_.push_back(arg);
        continue;
      }
      throw UsageError(cat("unexpected argument '", arg, "' (options start with --; see --help)"));
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) throw UsageError(cat("unknown option --", name, " (see --help)"));
    if (values_.count(name) && !it->second.repeated) throw UsageError(cat("option --", name, " given twice"));
    if (!it->second.takes_value) {
      if (inline_value) throw UsageError(cat("option --", name, " takes no value"));
      values_[name].push_back("1");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
        throw UsageError(cat("option --", name, " needs a value (", it->second.metavar, ")"));
      }
      value = args[++i];
    }
    if (value.empty()) throw UsageError(cat("option --", name, " has an empty value"));
    values_[name].push_back(value);
  }
  if (positionals_.size() < positional_specs_.size()) {
    throw UsageError(cat("missing argument ", positional_specs_[positionals_.size()].first, " (see --help)"));
  }
  for (const std::string& name : order_) {
    if (specs_[name].required && !values_.count(name)) {
      throw UsageError(cat("missing required option --", name, " ", specs_[name].metavar));
    }
  }
}

std::string ArgParser::value(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> ArgParser::values(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

int64_t ArgParser::int_value(const std::string& name, int64_t lo, int64_t hi, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second.back();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw UsageError(cat("option --", name, " expects an integer, got '", text, "'"));
  }
  if (v < lo || v > hi) throw UsageError(cat("option --", name, " is ", v, ", expected ", lo, "..", hi));
  return v;
}

std::string ArgParser::usage() const {
  std::string text = cat("usage: ", program_);
  for (const auto& [metavar, help] : positional_specs_) text += cat(" ", metavar);
  for (const std::string& name : order_) {
    const Spec& s = specs_.at(name);
    std::string part = cat("--", name, s.takes_value ? " " + s.metavar : "");
    text += s.required ? cat(" ", part) : cat(" [", part, "]");
    if (s.repeated) text += " ...";
  }
  text += cat("\n\n", summary_, "\n");
  if (!positional_specs_.empty()) {
    text += "\narguments:\n";
    for (const auto& [metavar, help] : positional_specs_) {
      std::string left = cat("  ", metavar);
      if (left.size() < 26) left.resize(26, ' ');
      text += cat(left, " ", help, "\n");
    }
  }
  text += "\noptions:\n";
  for (const std::string& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = cat("  --", name, s.takes_value ? " " + s.metavar : "");
    if (left.size() < 26) left.resize(26, ' ');
    const char* notes = s.required && s.repeated ? " (required, repeatable)"
                        : s.required                 ? " (required)"
                        : s.repeated                 ? " (repeatable)"
                                                     : "";
    text += cat(left, " ", s.help, notes, "\n");
  }
  text += cat(std::string("  --help").append(26 - 8, ' '), " this text\n");
  return text;
}

}  // namespace pleura::data
