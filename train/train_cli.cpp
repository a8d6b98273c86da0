// train_unet_main (train/train_cli.h).
#include "train/train_cli.h"

#include <csignal>

#include "engine/error.h"
#include "data/progress.h"
#include "train/train_config.h"

namespace pleura {

namespace {

const char* const kUsage =
    "usage: train_unet CONFIG.ini [--set section.key=value ...] [--resume]\n"
    "  Trains the UNet of CONFIG.ini fold by fold (see configs/README.md for its sections and keys).\n"
    "  --set section.key=value  overrides one setting of the file (repeatable)\n"
    "  --resume                 continues each fold from its last saved state (skips finished folds)\n"
    "  SIGINT / SIGTERM (Ctrl-C): the current step ends, the state is saved, and --resume goes on from there.\n";

// Restores the previous SIGINT / SIGTERM actions when the run ends (the library may run inside a test).
class SignalScope {
 public:
  SignalScope() {
    sigaction(SIGINT, nullptr, &old_int_);
    sigaction(SIGTERM, nullptr, &old_term_);
    clear_stop_request();
    install_stop_handlers();
  }
  ~SignalScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace

int train_unet_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const TrainOptions* options) {
  std::string config_path;
  std::vector<std::string> overrides;
  TrainOptions opt = options ? *options : TrainOptions{};
  opt.resume = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kUsage;
      return 0;
    } else if (a == "--resume") {
      opt.resume = true;
    } else if (a == "--set") {
      if (i + 1 >= args.size()) {
        err << "train_unet: --set needs section.key=value\n" << kUsage;
        return 2;
      }
      overrides.push_back(args[++i]);
    } else if (a.rfind("--set=", 0) == 0) {
      overrides.push_back(a.substr(6));
    } else if (a.rfind("-", 0) == 0) {
      err << "train_unet: unknown option '" << a << "'\n" << kUsage;
      return 2;
    } else if (config_path.empty()) {
      config_path = a;
    } else {
      err << "train_unet: one configuration file expected, got '" << config_path << "' and '" << a << "'\n"
          << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    err << "train_unet: no configuration file given\n" << kUsage;
    return 2;
  }
  if (!options) opt.terminal = data::stderr_is_terminal();
  try {
    const TrainConfig config = load_train_config(config_path, overrides);
    SignalScope signals;
    if (run_training(config, opt, out, err) == TrainOutcome::kInterrupted) {
      const int signal_number = stop_signal();
      err << "train_unet: stopped by signal " << signal_number << "; the state is saved, continue with --resume\n";
      return 128 + signal_number;
    }
    return 0;
  } catch (const std::exception& e) {
    err << "train_unet: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura
