// Helpers for the tools' tests (tests/tools/, tests/bench/, tests/infer/test_configs.cpp): a tool run
// in-process through the runner (tools/runner.h) with its exit status and both streams captured, also
// with a real signal raised part-way. Implemented in tools_testing.cpp.
#pragma once

#include <string>
#include <vector>

#include "tools/runner.h"

namespace pleura::testing {

struct ToolRun {
  int code = -1;
  std::string out, err;
};
ToolRun run_tool(const tools::Tool& tool, const std::vector<std::string>& args);
// The same, raising `signal_number` (SIGINT, SIGTERM) in the writing thread right after `trigger` first
// appears on stderr (e.g. a progress line "infer_unet: 1/3"), as a user's Ctrl-C at that moment would.
ToolRun run_tool_raising(const tools::Tool& tool, const std::vector<std::string>& args, const std::string& trigger,
                         int signal_number);

}  // namespace pleura::testing
