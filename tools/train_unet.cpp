// train_unet: trains the solution's UNets from an INI configuration (train/train_config.h, train/trainer.h):
//   train_unet CONFIG.ini [--set section.key=value ...] [--resume]
// On SIGINT / SIGTERM the current step ends, the fold's state is saved and the run exits with 128 + the
// signal; --resume continues. Tests: tests/tools/test_train_unet.cpp.
#include "train/train_config.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Trains the UNet of CONFIG.ini fold by fold (see configs/README.md for its sections and keys).\n"
    "SIGINT / SIGTERM (Ctrl-C): the current step ends, the state is saved, and --resume goes on from there.";

struct Args {
  std::string config;
  std::vector<std::string> overrides;
  bool resume = false;
  TrainOptions hooks;  // tests: after_batch
};

void declare(CLI::App& app, Args& a) {
  app.add_option("CONFIG.ini", a.config, "the training configuration")->required();
  app.add_option("--set", a.overrides, "overrides one setting of the file")->type_name("SECTION.KEY=VALUE");
  app.add_flag("--resume", a.resume, "continues each fold from its last saved state (skips finished folds)");
}

void run(const Args& a, const ToolContext& context) {
  TrainOptions options = a.hooks;
  options.resume = a.resume;
  options.terminal = context.terminal;
  const TrainConfig config = load_train_config(a.config, a.overrides);
  if (run_training(config, options, context.out, context.err) == TrainOutcome::kInterrupted) {
    throw Interrupted(stop_signal(), "; the state is saved, continue with --resume");
  }
}

}  // namespace

Tool train_unet_tool(const TrainOptions& hooks) {
  Args initial;
  initial.hooks = hooks;
  return make_tool("train_unet", kSummary, OnStop::kPolled, declare, run, initial);
}

}  // namespace pleura::tools
