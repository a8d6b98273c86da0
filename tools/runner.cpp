// run_tool and run_main: the frame, the signal handlers, the check of standard output (see runner.h).
#include "tools/runner.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <iostream>

#include "engine/interrupt.h"
#include "data/progress.h"

namespace pleura::tools {

namespace {

// The lines the exit-at-once handler writes, made before it is installed (a handler may not allocate).
char g_sigint_line[256];
char g_sigterm_line[256];

void exit_at_once(int signal_number) {
  const char* line = signal_number == SIGINT ? g_sigint_line : g_sigterm_line;
  const ssize_t written = ::write(STDERR_FILENO, line, std::strlen(line));
  (void)written;  // nothing more to do if stderr is gone
  ::_exit(128 + signal_number);
}

void record_stop(int signal_number) { request_stop(signal_number); }

void copy_line(char (&to)[256], const std::string& line) {
  const size_t n = std::min(line.size(), sizeof(to) - 1);
  std::memcpy(to, line.data(), n);
  to[n] = '\0';
}

// Installs the tool's SIGINT / SIGTERM handlers for the run and restores the previous ones after it (tests
// run many tools in one process).
class StopHandlers {
 public:
  explicit StopHandlers(const Tool& tool) {
    copy_line(g_sigint_line, cat(tool.name, ": stopped by ", describe_signal(SIGINT), "\n"));
    copy_line(g_sigterm_line, cat(tool.name, ": stopped by ", describe_signal(SIGTERM), "\n"));
    struct sigaction action {};
    action.sa_handler = tool.on_stop == OnStop::kPolled ? record_stop : exit_at_once;
    sigemptyset(&action.sa_mask);
    // Polled: a second signal gets the default action, so a stuck run still ends at once.
    action.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopHandlers() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopHandlers(const StopHandlers&) = delete;
  StopHandlers& operator=(const StopHandlers&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// A message on one line: line breaks inside it become spaces.
std::string one_line(std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  return message;
}

int usage_error(const Tool& tool, std::ostream& err, const std::string& message) {
  err << tool.name << ": error: " << one_line(message) << "\n(run " << tool.name << " --help for usage)\n";
  return kExitUsage;
}

int failure(const Tool& tool, std::ostream& err, const std::string& message) {
  err << tool.name << ": error: " << one_line(message) << "\n";
  return kExitFailure;
}

int stopped(const Tool& tool, std::ostream& err, int signal_number, const std::string& message) {
  err << tool.name << ": " << one_line(message) << "\n";
  return 128 + signal_number;
}

// Parses, prints --help or runs; every exception becomes its message and exit status.
int parse_and_run(const Tool& tool, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    CLI::App app(tool.summary, tool.name);
    app.set_help_flag();  // --help is the runner's (parse_command_line, help_text)
    const RunFunction run = tool.bind(app);
    if (parse_command_line(app, args) == Parsed::kHelp) {
      out << help_text(app, tool.summary);
      return kExitSuccess;
    }
    run(ToolContext{app, out, err, &err == &std::cerr && data::stderr_is_terminal()});
  } catch (const UsageError& e) {
    return usage_error(tool, err, e.what());
  } catch (const Interrupted& e) {
    return stopped(tool, err, e.signal_number(), e.what());
  } catch (const std::exception& e) {
    return failure(tool, err, e.what());
  } catch (...) {
    return failure(tool, err, "an exception that is not a std::exception");
  }
  // Work that does not poll ran to its end: the stop request still decides the status.
  if (stop_requested()) return stopped(tool, err, stop_signal(), cat("stopped by ", describe_signal(stop_signal())));
  return kExitSuccess;
}

}  // namespace

int run_tool(const Tool& tool, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  clear_stop_request();
  StopHandlers handlers(tool);
  const int status = parse_and_run(tool, args, out, err);
  // The results are the point of a successful run: one that could not be written out is a failure.
  out.flush();
  if (status == kExitSuccess && out.fail()) {
    return failure(tool, err, "could not write to standard output (a full disk, or a closed pipe or file)");
  }
  return status;
}

int run_main(const Tool& tool, int argc, char** argv) {
  return run_tool(tool, std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}

}  // namespace pleura::tools
