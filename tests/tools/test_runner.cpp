// Tests of the tools' runner (tools/runner.h, tools/command_line.h) with a small fake tool: values reaching
// the tool, the --help layout, every usage error with its message and exit status 2, failures (also on a
// worker thread) with status 1, SIGINT / SIGTERM with 130 / 143 (polled, and at once in a child process),
// the signal handlers restored afterwards, and standard output that cannot be written.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <sstream>

#include "engine/interrupt.h"
#include "data/jobs.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/tools/tools_testing.h"

using namespace pleura;
using namespace pleura::testing;
using namespace pleura::tools;

namespace {

// fake IN --size N [--probs DIR ...] [--fast] [--form F]; IN chooses what the run does.
struct FakeArgs {
  std::string in, form = "plain";
  int64_t size = 0;
  std::vector<std::string> probs;
  bool fast = false;
};

void declare_fake(CLI::App& app, FakeArgs& a) {
  app.add_option("IN", a.in, "the input")->required();
  app.add_option("--size", a.size, "a size, 1..10")->type_name("N")->required()->check(int_in(1, 10));
  app.add_option("--probs", a.probs, "a folder")->type_name("DIR");
  app.add_flag("--fast", a.fast, "go fast");
  app.add_option("--form", a.form, "plain or fancy")->type_name("F")->check(one_of({"plain", "fancy"}));
}

// IN = "stop:N": raises signal N, then polls the request as long-running work does.
void stop_after_signal(const std::string& in) {
  std::raise(std::stoi(in.substr(5)));
  throw_if_stop_requested("; the work so far is kept");
}

void run_fake(const FakeArgs& a, const ToolContext& context) {
  if (a.in == "broken") throw Error("input 'broken' is broken,\nsee line 3");
  if (a.in == "misused") throw UsageError("option --size 3 does not suit IN 'misused'");
  if (a.in == "worker") {
    data::run_jobs(8, 3, [](int64_t i) { PLEURA_CHECK(i != 5, "job ", i, " failed on its thread"); });
  }
  if (a.in.rfind("stop:", 0) == 0) stop_after_signal(a.in);
  if (a.in == "ignore:2") std::raise(SIGINT);  // work that never polls ends normally
  context.out << "in=" << a.in << " size=" << a.size << " fast=" << a.fast << " form=" << a.form << " probs=";
  for (const std::string& p : a.probs) context.out << p << ";";
  context.out << (context.given("--form") ? " form given" : "") << "\n";
}

const char* const kFakeSummary = "A fake tool.\nIts summary has two lines.";

Tool fake_tool(OnStop on_stop = OnStop::kPolled) {
  return make_tool("fake", kFakeSummary, on_stop, declare_fake, run_fake);
}

ToolRun run_fake_tool(const std::vector<std::string>& args) { return run_tool(fake_tool(), args); }

}  // namespace

TEST_CASE("runner: parsed values reach the tool; repeatable options keep their order") {
  const ToolRun r = run_fake_tool({"--probs", "a:1", "in.csv", "--size=7", "--probs=b", "--fast", "--probs", "c"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "in=in.csv size=7 fast=1 form=plain probs=a:1;b;c;\n");
  CHECK(r.err.empty());
  const ToolRun f = run_fake_tool({"x", "--form", "fancy", "--size", "10"});
  CHECK(f.out == "in=x size=10 fast=0 form=fancy probs= form given\n");
  // A leading '-' is a value where one is expected (here rejected by the range, not taken for an option).
  CHECK(run_fake_tool({"x", "--size", "-4"}).err.find("option --size is -4, expected 1..10") != std::string::npos);
}

TEST_CASE("runner: --help prints one layout: usage line, summary, one aligned table; it wins over errors") {
  const std::string help =
      "usage: fake IN --size N [--probs DIR] ... [--fast] [--form F]\n"
      "\n"
      "A fake tool.\n"
      "Its summary has two lines.\n"
      "\n"
      "arguments:\n"
      "  IN           the input\n"
      "\n"
      "options:\n"
      "  --size N     a size, 1..10 (required)\n"
      "  --probs DIR  a folder (repeatable)\n"
      "  --fast       go fast\n"
      "  --form F     plain or fancy\n"
      "  --help       this text\n";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"--nope", "x", "-h"}, {"--size", "abc", "--help"}}) {
    const ToolRun r = run_fake_tool(args);
    CHECK(r.code == 0);
    CHECK(r.out == help);
    CHECK(r.err.empty());
  }
}

TEST_CASE("runner: every usage error names the option or argument and exits 2 with a hint to --help") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"x", "--size", "3", "--colour"}, "unknown option --colour"},
      {{"x", "--size", "3", "--colour=red"}, "unknown option --colour"},
      {{"x", "--size", "3", "-c"}, "unknown option -c"},
      {{"--sizes", "3", "x"}, "unknown option --sizes"},  // reported before the missing --size it causes
      {{"x", "extra", "--size", "3"}, "unexpected argument 'extra'"},
      {{"--size", "3"}, "missing argument IN"},
      {{"x"}, "missing required option --size N"},
      {{"x", "--size", "3", "--size", "4"}, "option --size given twice"},
      {{"x", "--size", "3", "--fast", "--fast"}, "option --fast given twice"},
      {{"x", "--size"}, "option --size needs a value (N)"},
      {{"x", "--size", "3", "--probs"}, "option --probs needs a value (DIR)"},
      {{"x", "--size", "3", "--probs", "--fast"}, "option --probs needs a value (DIR), got the option --fast"},
      {{"x", "--size", "3", "--probs="}, "option --probs has an empty value"},
      {{"x", "--size", "3", "--probs=", "y"}, "option --probs has an empty value"},
      {{"x", "--size", "3", "--probs", ""}, "option --probs has an empty value"},
      {{"", "--size", "3"}, "argument IN is empty"},
      {{"x", "--size", "3", "--fast=1"}, "option --fast takes no value"},
      {{"x", "--size", "3", "--fast=true"}, "option --fast takes no value"},
      {{"x", "--size", "3x"}, "option --size expects an integer in 1..10, got '3x'"},
      {{"x", "--size", "+3"}, "option --size expects an integer in 1..10, got '+3'"},
      {{"x", "--size", " 3"}, "option --size expects an integer in 1..10, got ' 3'"},
      {{"x", "--size", "99999999999999999999"},
       "option --size expects an integer in 1..10, got '99999999999999999999'"},
      {{"x", "--size", "11"}, "option --size is 11, expected 1..10"},
      {{"x", "--size", "0"}, "option --size is 0, expected 1..10"},
      {{"x", "--size", "3", "--form", "Fancy"}, "option --form is 'Fancy', expected plain or fancy"},
      {{"misused", "--size", "3"}, "option --size 3 does not suit IN 'misused'"},  // thrown by the run
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(message);
    const ToolRun r = run_fake_tool(args);
    CHECK(r.code == kExitUsage);
    CHECK(r.err == "fake: error: " + message + "\n(run fake --help for usage)\n");
    CHECK(r.out.empty());
  }
}

TEST_CASE("runner: a failed run exits 1 with one line, also when the error is thrown on a worker thread") {
  const ToolRun broken = run_fake_tool({"broken", "--size", "3"});
  CHECK(broken.code == kExitFailure);
  CHECK(broken.err == "fake: error: input 'broken' is broken, see line 3\n");
  CHECK(broken.out.empty());
  const ToolRun worker = run_fake_tool({"worker", "--size", "3"});
  CHECK(worker.code == kExitFailure);
  CHECK(worker.err == "fake: error: job 5 failed on its thread\n");
}

TEST_CASE("runner: SIGINT and SIGTERM stop a polling run with 130 and 143; the old handlers come back") {
  struct sigaction before {};
  sigaction(SIGINT, nullptr, &before);
  const ToolRun interrupted = run_fake_tool({"stop:2", "--size", "3"});
  CHECK(interrupted.code == 130);
  CHECK(interrupted.err == "fake: stopped by signal 2 (SIGINT); the work so far is kept\n");
  CHECK(interrupted.out.empty());
  const ToolRun terminated = run_fake_tool({"stop:15", "--size", "3"});
  CHECK(terminated.code == 143);
  CHECK(terminated.err == "fake: stopped by signal 15 (SIGTERM); the work so far is kept\n");
  // Work that does not poll ends normally, but the status still says it was stopped.
  const ToolRun ignored = run_fake_tool({"ignore:2", "--size", "3"});
  CHECK(ignored.code == 130);
  CHECK(ignored.err == "fake: stopped by signal 2 (SIGINT)\n");
  CHECK(ignored.out == "in=ignore:2 size=3 fast=0 form=plain probs=\n");
  // The request of an earlier run does not leak into the next one, nor do the handlers.
  REQUIRE(run_fake_tool({"x", "--size", "3"}).code == 0);
  struct sigaction after {};
  sigaction(SIGINT, nullptr, &after);
  CHECK((after.sa_handler == before.sa_handler));
}

TEST_CASE("runner: a tool that does not poll exits at once with 128 + signal (in a child process)") {
  for (const int signal_number : {SIGINT, SIGTERM}) {
    CAPTURE(signal_number);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      dup2(fds[1], STDERR_FILENO);
      std::ostringstream out, err;
      run_tool(fake_tool(OnStop::kExitAtOnce), {"stop:" + std::to_string(signal_number), "--size", "3"}, out, err);
      _exit(99);  // not reached: the handler ends the process
    }
    close(fds[1]);
    std::string message;
    char buffer[256];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 128 + signal_number);
    CHECK(message == "fake: stopped by " + describe_signal(signal_number) + "\n");
  }
}

TEST_CASE("runner: standard output that cannot be written makes a successful run fail with status 1") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"x", "--size", "3"}, {"--help"}}) {
    std::ostringstream out, err;
    out.setstate(std::ios::badbit);
    CHECK(tools::run_tool(fake_tool(), args, out, err) == kExitFailure);
    CHECK(err.str() == "fake: error: could not write to standard output (a full disk, or a closed pipe or file)\n");
  }
  // A run that failed anyway keeps its own status and message.
  std::ostringstream out, err;
  out.setstate(std::ios::badbit);
  CHECK(tools::run_tool(fake_tool(), {"x"}, out, err) == kExitUsage);
  CHECK(err.str() == "fake: error: missing required option --size N\n(run fake --help for usage)\n");
}

TEST_CASE("command line: same_path compares folders as written, existing or not") {
  TempDir dir;
  CHECK(same_path(dir.file("out"), dir.path() + "/./out/"));
  CHECK(same_path(dir.file("out"), dir.path() + "/sub/../out"));
  CHECK_FALSE(same_path(dir.file("out"), dir.file("out2")));
  CHECK_FALSE(same_path(dir.file("out"), dir.file("out/maps")));
}
