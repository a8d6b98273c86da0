// Tests of data/cli_args.h: values, flags, repeatable options, positional arguments, and every
// usage error with its message.
#include "tests/testing.h"
#include "data/cli_args.h"

using namespace pleura;
using namespace pleura::data;

namespace {

ArgParser make_parser() {
  ArgParser p("tool", "A test tool.");
  p.add_positional("IN", "the input");
  p.add_value("size", "N", "a size", true);
  p.add_repeated("probs", "DIR", "a folder");
  p.add_flag("fast", "go fast");
  return p;
}

void expect_usage(const std::vector<std::string>& args, const std::string& part) {
  ArgParser p = make_parser();
  try {
    p.parse(args);
  } catch (const UsageError& e) {
    CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos, e.what());
    return;
  }
  FAIL("expected a UsageError containing '", part, "'");
}

}  // namespace

TEST_CASE("cli_args: repeatable options keep every value in order; positionals are matched in order") {
  ArgParser p = make_parser();
  p.parse({"--probs", "a:1", "in.csv", "--size=7", "--probs=b", "--fast", "--probs", "c"});
  CHECK(p.positional(0) == "in.csv");
  CHECK(p.int_value("size", 1, 10, 0) == 7);
  CHECK(p.values("probs") == std::vector<std::string>{"a:1", "b", "c"});
  CHECK(p.value("probs") == "c");  // the last one
  CHECK(p.has("fast"));
  CHECK(p.values("absent").empty());
  const std::string usage = p.usage();
  CHECK(usage.find("usage: tool IN --size N [--probs DIR] ... [--fast]") != std::string::npos);
  // Names padded to 26 columns, then a space and the help.
  auto row = [](const std::string& left, const std::string& help) {
    return left + std::string(26 - left.size(), ' ') + " " + help + "\n";
  };
  CHECK(usage.find("arguments:\n" + row("  IN", "the input")) != std::string::npos);
  CHECK(usage.find(row("  --probs DIR", "a folder (repeatable)")) != std::string::npos);
  CHECK(usage.find(row("  --size N", "a size (required)")) != std::string::npos);
  CHECK(usage.find(row("  --help", "this text")) != std::string::npos);
}

TEST_CASE("cli_args: usage errors name the argument") {
  expect_usage({"--size", "3"}, "missing argument IN");
  expect_usage({"in", "extra", "--size", "3"}, "unexpected argument 'extra'");
  expect_usage({"in"}, "missing required option --size N");
  expect_usage({"in", "--size", "3", "--size", "4"}, "option --size given twice");
  expect_usage({"in", "--size", "3", "--fast", "--fast"}, "option --fast given twice");
  expect_usage({"in", "--size"}, "option --size needs a value (N)");
  expect_usage({"in", "--size", "3", "--probs", "--fast"}, "option --probs needs a value (DIR)");
  expect_usage({"in", "--size", "3", "--probs="}, "option --probs has an empty value");
  expect_usage({"in", "--size", "3", "--nope"}, "unknown option --nope");
  expect_usage({"in", "--size", "3", "--fast=1"}, "option --fast takes no value");
  ArgParser p = make_parser();
  p.parse({"in", "--size", "x3"});
  CHECK_THROWS_WITH_AS(p.int_value("size", 1, 10, 0), "option --size expects an integer, got 'x3'", UsageError);
  ArgParser q = make_parser();
  q.parse({"in", "--size", "30"});
  CHECK_THROWS_WITH_AS(q.int_value("size", 1, 10, 0), "option --size is 30, expected 1..10", UsageError);
  ArgParser h = make_parser();
  h.parse({"--nope", "--help"});  // --help wins over every other check
  CHECK(h.help_requested());
}
