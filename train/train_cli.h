// The command line of tools/train_unet:  train_unet CONFIG.ini [--set section.key=value ...] [--resume]
// Parses the arguments, loads the configuration (train/train_config.h), installs the SIGINT / SIGTERM
// handlers and runs the training (train/trainer.h). Tests: tests/tools/test_train_unet.cpp.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace pleura {

// Exit status: 0 trained (or nothing left to do), 1 an error (one line on `err`), 2 a usage error,
// 128 + the signal number when a SIGINT / SIGTERM stopped the run (its `last` state saved).
// `options` (tests) supplies the after_batch hook; resume and terminal come from the command line and
// from whether stderr is a terminal. Logs go to `out`, progress and errors to `err`.
int train_unet_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                    const TrainOptions* options = nullptr);

}  // namespace pleura
