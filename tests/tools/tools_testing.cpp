// A tool run in-process with captured streams (tools_testing.h).
#include "tests/tools/tools_testing.h"

#include <csignal>
#include <sstream>

namespace pleura::testing {

namespace {

// Keeps the text written to it and raises a signal once, right after `trigger` is first written.
class RaisingBuffer : public std::stringbuf {
 public:
  RaisingBuffer(std::string trigger, int signal_number) : trigger_(std::move(trigger)), signal_(signal_number) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const std::streamsize written = std::stringbuf::xsputn(s, n);
    check();
    return written;
  }
  int_type overflow(int_type c) override {
    const int_type result = std::stringbuf::overflow(c);
    check();
    return result;
  }

 private:
  void check() {
    if (raised_ || str().find(trigger_) == std::string::npos) return;
    raised_ = true;
    std::raise(signal_);
  }
  std::string trigger_;
  int signal_;
  bool raised_ = false;
};

}  // namespace

ToolRun run_tool(const tools::Tool& tool, const std::vector<std::string>& args) {
  std::ostringstream out, err;
  ToolRun r;
  r.code = tools::run_tool(tool, args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

ToolRun run_tool_raising(const tools::Tool& tool, const std::vector<std::string>& args, const std::string& trigger,
                         int signal_number) {
  std::ostringstream out;
  RaisingBuffer err_buffer(trigger, signal_number);
  std::ostream err(&err_buffer);
  ToolRun r;
  r.code = tools::run_tool(tool, args, out, err);
  r.out = out.str();
  r.err = err_buffer.str();
  return r;
}

}  // namespace pleura::testing
