// The one frame of every command-line tool. A Tool describes itself (name, summary, its options declared on a
// CLI::App, the function that runs it); run_tool parses (tools/command_line.h), prints --help, runs, and turns
// every outcome into one line on stderr and an exit status:
//   0    success
//   1    failure: bad input, a failed run ("X: error: <message>"), or standard output could not be written
//   2    usage error ("X: error: <message>", then "(run X --help for usage)")
//   130  stopped by SIGINT, 143 by SIGTERM (128 + the signal): "X: stopped by signal 2 (SIGINT)..."
// The runner owns the SIGINT / SIGTERM handlers. A tool whose work polls the stop request
// (engine/interrupt.h) ends cleanly (OnStop::kPolled); any other ends at once. Each program is a generated
// three-line main over run_main (CMakeLists.txt, tools/main.cpp.in); the tools are in tools/tools.h.
// Tests: tests/tools/test_runner.cpp, and every tool's tests in tests/tools/.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "tools/command_line.h"

namespace pleura::tools {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;  // an interrupted run exits with 128 + the signal number

// What a running tool sees: the parsed command line and its two streams.
struct ToolContext {
  const CLI::App& app;
  std::ostream& out;  // results: standard output
  std::ostream& err;  // progress, warnings: standard error
  bool terminal;      // err is a terminal: progress bars are redrawn in place
  // True when `option` ("--labels") was given on the command line.
  bool given(const std::string& option) const { return app.count(option) > 0; }
};

// What SIGINT / SIGTERM does while the tool runs.
enum class OnStop {
  kPolled,     // sets the stop request; the work ends cleanly (a second signal ends the process at once)
  kExitAtOnce  // prints "X: stopped by signal N (NAME)" and exits with 128 + N at once
};

using RunFunction = std::function<void(const ToolContext&)>;

struct Tool {
  std::string name;
  std::string summary;  // the paragraphs of --help after the usage line
  OnStop on_stop = OnStop::kExitAtOnce;
  // Declares the options on `app`, bound to fresh values, and returns the function that runs the tool
  // once they are parsed. It returns normally on success and throws on failure: UsageError (exit 2),
  // Interrupted (128 + signal), anything else (exit 1).
  std::function<RunFunction(CLI::App&)> bind;
};

namespace detail {
// The Tool::bind of a declare / run pair; `fresh` makes the values of one run.
template <class Args, class Fresh>
std::function<RunFunction(CLI::App&)> bind_args(void (*declare)(CLI::App&, Args&),
                                                void (*run)(const Args&, const ToolContext&), Fresh fresh) {
  return [declare, run, fresh](CLI::App& app) -> RunFunction {
    std::shared_ptr<Args> args = fresh();
    declare(app, *args);
    return [args, run](const ToolContext& context) { run(*args, context); };
  };
}
}  // namespace detail

// A Tool from a struct of values `Args` (default-constructed, or a copy of `initial`, for each run), a
// function declaring the options into it and a function running the tool with them.
template <class Args>
Tool make_tool(std::string name, std::string summary, OnStop on_stop, void (*declare)(CLI::App&, Args&),
               void (*run)(const Args&, const ToolContext&)) {
  return {std::move(name), std::move(summary), on_stop,
          detail::bind_args(declare, run, [] { return std::make_shared<Args>(); })};
}
template <class Args>
Tool make_tool(std::string name, std::string summary, OnStop on_stop, void (*declare)(CLI::App&, Args&),
               void (*run)(const Args&, const ToolContext&), const Args& initial) {
  auto first = std::make_shared<const Args>(initial);
  return {std::move(name), std::move(summary), on_stop,
          detail::bind_args(declare, run, [first] { return std::make_shared<Args>(*first); })};
}

// Runs `tool` on `args` (without the program name): the exit status above. The stop request is cleared
// first, and the signal handlers in place before are restored at the end.
int run_tool(const Tool& tool, const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// run_tool on argv with std::cout and std::cerr: a program's whole main.
int run_main(const Tool& tool, int argc, char** argv);

}  // namespace pleura::tools
