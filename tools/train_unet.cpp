// train_unet: trains the solution's UNets from an INI configuration (train/train_config.h, train/trainer.h):
//   train_unet CONFIG.ini [--set section.key=value ...] [--resume]
// On SIGINT / SIGTERM the current step ends, the fold's state is saved and the run exits with 128 + the
// signal; --resume continues. Under mpirun / srun each process is one rank of a data-parallel run; a rank
// that fails ends them all (MPI_Abort) with a message naming it. Tests: tests/tools/test_train_unet.cpp,
// tests/mpi/ (under mpirun).
#include <csignal>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <thread>

#include "engine/communicator.h"
#include "engine/parallel.h"
#include "train/train_config.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Trains the UNet of CONFIG.ini fold by fold (see configs/README.md for its sections and keys).\n"
    "SIGINT / SIGTERM (Ctrl-C): the current step ends, the state is saved, and --resume goes on from there.\n"
    "Data parallel: mpirun -np N train_unet CONFIG.ini (or srun) trains on N ranks, one per GPU on CUDA;\n"
    "batch_size is per rank, [train] sync_bn = true shares batch norm statistics over the ranks.";

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

// Test hook of the data-parallel fault tests: PLEURA_FAULT_RANK=<rank>:<batch>:<error|kill> makes that
// rank fail after that training batch of the first fold's first epoch (an error, or SIGKILL).
std::function<bool(int, int64_t, int64_t)> fault_hook(std::function<bool(int, int64_t, int64_t)> next, int rank) {
  const char* spec = std::getenv("PLEURA_FAULT_RANK");
  if (spec == nullptr || *spec == '\0') return next;
  int fault_rank = -1;
  long long fault_batch = -1;
  char kind[16] = {};
  PLEURA_CHECK(std::sscanf(spec, "%d:%lld:%15s", &fault_rank, &fault_batch, kind) == 3,
               "PLEURA_FAULT_RANK='", spec, "': expected <rank>:<batch>:<error|kill>");
  const bool kill = std::string(kind) == "kill";
  return [=](int fold, int64_t epoch, int64_t batch) {
    if (rank == fault_rank && epoch == 0 && batch == fault_batch) {
      if (kill) std::raise(SIGKILL);
      throw_error(cat("injected fault (PLEURA_FAULT_RANK) after batch ", batch));
    }
    return next ? next(fold, epoch, batch) : false;
  };
}

void run(const Args& a, const ToolContext& context) {
  // mpirun / srun: one rank of a data-parallel run (engine/communicator.h); otherwise one process.
  DistributedSession session;
  Communicator& world = session.world();
  // The ranks on one machine share its cores (unless PLEURA_NUM_THREADS says otherwise).
  if (world.local_size() > 1 && std::getenv("PLEURA_NUM_THREADS") == nullptr)
    set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / world.local_size()));
  TrainOptions options = a.hooks;
  options.resume = a.resume;
  options.terminal = context.terminal;
  options.world = &world;
  options.after_batch = fault_hook(options.after_batch, world.rank());
  try {
    const TrainConfig config = load_train_config(a.config, a.overrides);
    if (run_training(config, options, context.out, context.err) == TrainOutcome::kInterrupted) {
      throw Interrupted(stop_signal(), "; the state is saved, continue with --resume");
    }
  } catch (const Interrupted&) {
    throw;  // every rank stops after the same step (they agree on it) and ends the same way
  } catch (const std::exception& e) {
    if (!session.distributed()) throw;
    // The other ranks wait in their next collective: end them all, naming the rank that failed.
    context.err << "train_unet: error: rank " << world.rank() << " of " << world.size() << ": " << e.what()
                << "\ntrain_unet: ending every rank of the run (MPI_Abort)" << std::endl;
    world.abort(kExitFailure);
  }
}

}  // namespace

Tool train_unet_tool(const TrainOptions& hooks) {
  Args initial;
  initial.hooks = hooks;
  return make_tool("train_unet", kSummary, OnStop::kPolled, declare, run, initial);
}

}  // namespace pleura::tools
