// run_training (train/trainer.h): folds, model set-up, resuming, the epoch loop with the reference's
// post-processing (Learning.process_summary / post_processing), stop requests and checkpoints. The
// epoch itself is in train/train_epoch.cpp. Tests: tests/tools/test_train_unet.cpp.
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>

#include "engine/alloc_context.h"
#include "engine/conv_algorithm_choice.h"
#include "engine/cuda_runtime.h"
#include "engine/error.h"
#include "engine/file_io.h"
#include "engine/folder_lock.h"
#include "engine/parallel.h"
#include "layers/batchnorm.h"
#include "layers/pretrained.h"
#include "models/registry.h"
#include "train/fold_trainer.h"
#include "train/learning_curve.h"

namespace fs = std::filesystem;

namespace pleura {

namespace {

// Where the ranks other than 0 send their log lines and progress.
class NullStream : public std::ostream {
 public:
  NullStream() : std::ostream(nullptr) {}
};

// One GPU per rank: a data-parallel run on CUDA puts each rank on the device of its local rank.
TrainConfig with_rank_device(const TrainConfig& config, const Communicator& comm) {
  TrainConfig c = config;
  if (comm.size() == 1 || !c.device.is_cuda()) return c;
  const int devices = cuda::device_count();
  PLEURA_CHECK(comm.local_rank() < devices, c.where("run.device"), ": rank ", comm.rank(), " is local rank ",
               comm.local_rank(), " of ", comm.local_size(), " on its machine, which has ", devices,
               " CUDA device(s): start at most one rank per GPU");
  c.device = Device::cuda(comm.local_rank());
  return c;
}

// Streams of random numbers derived from a fold's seed (data/sampler.h: derive_seed).
constexpr uint64_t kModelStream = 0x4D4F44454C494E31ULL;    // "MODELIN1"
constexpr uint64_t kSamplerSeed = 0x53414D504C455253ULL;    // "SAMPLERS"
constexpr uint64_t kAugmentStream = 0x4155474D454E5431ULL;  // "AUGMENT1"

std::unique_ptr<Scheduler> make_scheduler(const TrainConfig& c) {
  switch (c.scheduler) {
    case SchedulerType::kPlateau: return make_plateau(c.lr, c.plateau);
    case SchedulerType::kCosine: return make_cosine(c.lr, c.cosine);
    case SchedulerType::kWarmRestarts: return make_warm_restarts(c.lr, c.warm_restarts);
  }
  throw_error("[train] unknown scheduler type");
}

std::map<std::string, std::string> weight_metadata(const FoldRun& run, int64_t epoch, const std::string& score) {
  std::map<std::string, std::string> m = {{"pipeline", run.config.pipeline},
                                          {"model", run.config.model},
                                          {"fold", std::to_string(run.fold)},
                                          {"epoch", std::to_string(epoch)}};
  if (!score.empty()) m["score"] = score;
  return m;
}

void save_last(FoldRun& run) {
  run.state.lr = run.adam->lr();
  run.state.scheduler = run.scheduler->state();
  run.state.world_size = run.comm->size();
  if (!run.writes()) return;
  // The plain weights (for inference) first, the state last: the state is what --resume reads, so it is
  // the commit point. A kill between the two leaves the older state, from which --resume writes both
  // again; the other order left a finished state beside the previous epoch's weights (soak-resume.sh).
  save_weights(run.paths.last, *run.model, weight_metadata(run, run.state.epoch, ""));
  save_training_state(run.paths.last_state, run.state, *run.model, *run.adam);
}

TrainOutcome interrupted(FoldRun& run) {
  // Gradients accumulated inside a grad_accum window are saved summed over the ranks (rank 0 alone loads
  // them back: resume_state), so the window's sum comes out the same. No backward pass is left to overlap
  // the sum with: it is taken after it.
  if (run.distributed()) run.reducer->all_reduce();
  save_last(run);
  const int64_t batches = run.train_loader->num_batches();
  run.log.line(cat("stopped (signal ", stop_signal(), "): saved ", run.paths.last_state, " at epoch ", run.state.epoch,
                   run.state.training_done ? ", before its validation" : cat(", batch ", run.state.batch, " of ", batches),
                   "; run again with --resume to continue"));
  return TrainOutcome::kInterrupted;
}

// Learning.post_processing: keep the epoch among the top-k, save the best, step the scheduler.
void post_process(FoldRun& run, double score, int64_t epoch) {
  const TrainConfig& c = run.config;
  TrainingState& st = run.state;
  const std::string score_text = format_number(score);
  if (c.topk > 0) {
    const std::string path = run.paths.epoch_checkpoint(epoch);
    if (run.writes()) save_weights(path, *run.model, weight_metadata(run, epoch, score_text));
    st.topk.push_back({score, epoch, fs::path(path).filename().string()});
    if (static_cast<int64_t>(st.topk.size()) > c.topk) {
      // heapq.heappop of (score, path): the lowest score, ties broken by the path (all in one folder).
      auto worst = std::min_element(st.topk.begin(), st.topk.end(), [](const TopkEntry& a, const TopkEntry& b) {
        return a.score != b.score ? a.score < b.score : a.path < b.path;
      });
      const std::string removing = run.paths.history + "/" + worst->path;
      st.topk.erase(worst);
      std::error_code ec;
      if (run.writes()) fs::remove(removing, ec);  // already gone when a resumed run repeats an epoch
      run.log.line("Removed checkpoint is " + removing);
    }
  }
  if (score > st.best_score) {
    st.best_score = score;
    st.best_epoch = epoch;
    if (run.writes()) save_weights(run.paths.best, *run.model, weight_metadata(run, epoch, score_text));
    run.log.line(cat("best model: ", epoch, " epoch - ", score_text));
  }
  run.adam->set_lr(run.scheduler->step(score));
}

void apply_freeze(FoldRun& run, int64_t epoch, bool first_epoch_of_run) {
  const int64_t n = run.config.freeze_encoder_epochs;
  if (n <= 0) return;
  const std::string prefix = model_spec(run.config.model).encoder_prefix;
  if (epoch < n) {
    const int count = run.model->freeze(prefix);
    if (first_epoch_of_run) run.log.line(cat("encoder frozen (", count, " parameters under ", prefix, ") until epoch ", n));
  } else if (epoch == n || first_epoch_of_run) {
    run.model->unfreeze(prefix);
    if (epoch == n) run.log.line(cat("encoder unfrozen at epoch ", epoch));
  }
}

std::vector<std::string> summary_row(int64_t epoch, const TripletSearchResult& r) {
  std::vector<std::string> row = {std::to_string(epoch), format_number(r.best_score())};
  for (double s : r.scores) row.push_back(format_number(s));
  return row;
}

// `valid_seconds` of the epoch's st.epoch_seconds went to validation; the data wait is a share of the rest.
std::vector<std::string> metrics_row(const TrainingState& st, double lr, const TripletSearchResult* r,
                                     double valid_seconds) {
  const bool trained = st.loss_count > 0;
  const double train_seconds = st.epoch_seconds - valid_seconds;
  const double share = train_seconds > 0 ? st.wait_seconds / train_seconds : 0.0;
  char seconds[32], wait[32];
  std::snprintf(seconds, sizeof(seconds), "%.2f", st.epoch_seconds);
  std::snprintf(wait, sizeof(wait), "%.4f", share);
  return {std::to_string(st.epoch),
          trained ? format_number(st.loss_sum / static_cast<double>(st.loss_count)) : "",
          format_number(lr),
          seconds,
          trained ? wait : "",
          r ? triplet_label(r->best_triplet()) : "",
          r ? format_number(r->best_score()) : ""};
}

// A fresh run's starting weights: the ImageNet encoder and/or the previous stage's best checkpoint.
void load_starting_weights(FoldRun& run) {
  const TrainConfig& c = run.config;
  if (!c.pretrained_encoder.empty())
    run.log.line("ImageNet encoder: " + load_pretrained_encoder(run.model->state_dict_slots(),
                                                                 model_spec(c.model).encoder, c.pretrained_encoder));
  if (c.init_folder.empty()) return;
  // Train.py: MODEL.PRETRAINED loads <path>/<pipeline>_fold<k> when the file exists, silently skips it otherwise.
  const std::string path = c.init_folder + "/" + c.init_pipeline + "_fold" + std::to_string(run.fold) + ".safetensors";
  if (fs::is_regular_file(path)) {
    load_weights(path, *run.model, model_spec(c.model).state_dict);
    run.log.line("load model from " + path);
  } else {
    run.log.line("no checkpoint " + path + " to start from: training from " +
                 (c.pretrained_encoder.empty() ? "scratch" : "the ImageNet encoder"));
  }
}

// The optimizer, the scheduler and (when [sampler] enabled) the sampler of the fold's training images.
void make_optimization(FoldRun& run) {
  const TrainConfig& c = run.config;
  AdamOptions adam;
  adam.lr = c.lr;
  adam.weight_decay = c.weight_decay;
  run.adam = std::make_unique<Adam>(run.model->parameters(), adam);
  run.reducer = std::make_unique<GradientReducer>(run.model->parameters(), *run.comm);
  run.scheduler = make_scheduler(c);
  if (c.use_sampler)
    run.sampler = std::make_unique<EpochSampler>(
        run.split.train_positive, SampleRateSchedule::sliding(c.rate_start, c.rate_end, c.epochs),
        derive_seed(run.seed, kSamplerSeed));
}

// The training loader (augmented) and the validation loader (resized only) of the fold.
void make_loaders(FoldRun& run, const TrainDataset& dataset) {
  const TrainConfig& c = run.config;
  LoaderConfig lc;
  lc.batch_size = c.batch_size;
  lc.num_workers = c.workers;
  lc.normalization = c.normalization;
  lc.memory = c.device.is_cuda() ? HostMemory::kPinned : HostMemory::kPageable;
  lc.augment = c.augment;
  lc.seed = derive_seed(run.seed, kAugmentStream);
  run.train_loader = std::make_unique<Loader>(dataset.source(run.split.train, MaskPolicy::kZerosForNegatives), lc,
                                              dataset.namer(run.split.train));
  lc.augment = augment::resize_only(c.size);
  run.valid_loader = std::make_unique<Loader>(dataset.source(run.split.valid, MaskPolicy::kRead), lc,
                                              dataset.namer(run.split.valid));
}

// A resumed run's state, optimizer and scheduler as saved; the CSV rows written after the save go.
void resume_state(FoldRun& run, CsvLog& summary, CsvLog& metrics) {
  TrainingState& st = run.state;
  const TrainingState saved = peek_training_state(run.paths.last_state);
  PLEURA_CHECK(saved.world_size == run.comm->size() || saved.batch == 0 || saved.training_done, "fold ", run.fold, ": ",
               run.paths.last_state, " was saved by ", saved.world_size, saved.world_size == 1 ? " process" : " ranks",
               " inside epoch ", saved.epoch, " (batch ", saved.batch, "); this run has ", run.comm->size(),
               ": resume with the same number of ranks (the rest of the epoch is cut into batches per rank)");
  st = load_training_state(run.paths.last_state, *run.model, *run.adam);
  if (!run.writes()) run.model->zero_grad();  // rank 0 holds the window's gradients, summed over the ranks
  run.scheduler->load_state(st.scheduler);
  run.adam->set_lr(st.lr);
  summary.truncate(st.summary_rows);  // rows written after the save are written again
  metrics.truncate(st.metrics_rows);
  run.log.line(cat("resuming fold ", run.fold, " at epoch ", st.epoch,
                   st.training_done ? " (validation)" : cat(", batch ", st.batch)));
}

// A fresh run's state at epoch 0.
void start_state(FoldRun& run, const CsvLog& summary, const CsvLog& metrics) {
  const TrainConfig& c = run.config;
  TrainingState& st = run.state;
  st = TrainingState{};
  st.config_hash = config_hash(c);
  st.pipeline = c.pipeline;
  st.fold = run.fold;
  st.lr = c.lr;
  // Learning.__init__: the best score starts at the best of an existing summary.csv (an earlier stage in
  // the same folder), so a stage only replaces the best checkpoint when it beats the earlier ones.
  if (std::optional<double> best = best_in_summary(summary)) {
    st.best_score = *best;
    run.log.line("Pretrained best score is " + format_number(*best));
  }
  st.summary_rows = summary.rows();
  st.metrics_rows = metrics.rows();
}

// Builds the model, optimizer, scheduler, sampler and loaders of a fold; loads the starting weights of a
// fresh run (ImageNet encoder, previous stage) or the saved state of a resumed one.
void set_up(FoldRun& run, const TrainDataset& dataset, bool resuming, CsvLog& summary, CsvLog& metrics) {
  const TrainConfig& c = run.config;
  run.model = make_model(c.model, derive_seed(run.seed, kModelStream));
  PLEURA_CHECK(c.size % run.model->input_multiple() == 0, c.where("data.size"), ": ", c.size,
               " is not a multiple of ", run.model->input_multiple(), ", which ", c.model, " needs");
  if (!resuming) load_starting_weights(run);
  set_workload(cat("training ", c.model, " at ", c.size, "x", c.size, ", batch ", c.batch_size, ", fold ", run.fold));
  try {
    run.model->to(c.device);
  } catch (const Error& e) {
    throw_error(cat(c.where("run.device"), ": ", e.what()));
  }
  if (c.sync_bn && run.distributed()) {
    const int layers = synchronize_batch_norm(*run.model, run.comm);
    run.log.line(cat("sync_bn: ", layers, " batch norm layers take their statistics over the ", run.comm->size(), " ranks"));
  }
  make_optimization(run);
  make_loaders(run, dataset);
  if (resuming) {
    resume_state(run, summary, metrics);
    broadcast_model(*run.model, *run.comm);
  } else {
    broadcast_model(*run.model, *run.comm);
    start_state(run, summary, metrics);
    // Saved before any row is written: a run killed from here on (even in its first epoch, even by
    // SIGKILL) resumes from this state, and the CSV rows it wrote are cut back to the counts recorded
    // here, instead of restarting as "nothing to resume" over rows that look like an earlier stage's.
    // (validate_only saves nothing, as in the reference.)
    if (!c.validate_only) save_last(run);
  }
}

// How a fold begins, given its saved state (`last_state`) and --resume.
enum class FoldStart {
  kFresh,   // from the starting weights
  kResume,  // from the saved state of an interrupted run of this configuration
  kSkip,    // already finished
};

FoldStart fold_start(const FoldRun& run) {
  const FoldPaths& paths = run.paths;
  const int fold = run.fold;
  const bool resume = run.options.resume;
  if (!fs::exists(paths.last_state)) {
    if (resume) run.log.line(cat("fold ", fold, ": nothing to resume (no ", paths.last_state, "): starting it"));
    return FoldStart::kFresh;
  }
  const TrainingState saved = peek_training_state(paths.last_state);
  const bool same_config = saved.config_hash == config_hash(run.config);
  if (!resume) {
    PLEURA_CHECK(saved.finished, "fold ", fold, ": ", paths.last_state, " holds an interrupted run (epoch ",
                 saved.epoch, ", batch ", saved.batch, "): add --resume to continue it, or delete it to start over");
    return FoldStart::kFresh;
  }
  if (saved.finished && !same_config) {
    // A finished earlier stage in the same folder: nothing of this run to resume.
    run.log.line(cat("fold ", fold, ": ", paths.last_state, " is a finished run of another configuration: starting"));
    return FoldStart::kFresh;
  }
  PLEURA_CHECK(same_config, "fold ", fold, ": ", paths.last_state, " was made by another configuration (hash ",
               saved.config_hash, ", this one ", config_hash(run.config), "); --resume continues only the same run");
  if (saved.finished) {
    run.log.line(cat("fold ", fold, " already finished (", paths.last_state, "): skipped"));
    return FoldStart::kSkip;
  }
  return FoldStart::kResume;
}

// MODEL.FREEZE: the reference validates without training or saving.
TrainOutcome validate_only(FoldRun& run, CsvLog& summary, CsvLog& metrics) {
  TrainingState& st = run.state;
  std::optional<TripletSearchResult> r = validate(run);
  if (!r) return TrainOutcome::kInterrupted;
  summary.append(summary_row(st.epoch, *r));
  metrics.append(metrics_row(st, run.adam->lr(), &*r, st.epoch_seconds));
  run.log.line(cat(st.epoch, " epoch: \t Score: ", format_number(r->best_score()), "\t Params: ",
                   triplet_label(r->best_triplet())));
  return TrainOutcome::kFinished;
}

struct EpochValidation {
  TripletSearchResult result;
  double seconds = 0.0;
};

// Validates the current epoch, adds the time to st.epoch_seconds and writes the summary row;
// std::nullopt when a stop was requested.
std::optional<EpochValidation> validate_epoch(FoldRun& run, CsvLog& summary) {
  TrainingState& st = run.state;
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<TripletSearchResult> result = validate(run);
  if (!result) return std::nullopt;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.epoch_seconds += seconds;
  run.log.line(cat(st.epoch, " epoch: \t Score: ", format_number(result->best_score()), "\t Params: ",
                   triplet_label(result->best_triplet())));
  summary.append(summary_row(st.epoch, *result));
  ++st.summary_rows;
  return EpochValidation{std::move(*result), seconds};
}

// Moves the state on to the next epoch and saves `last` (finished after the last epoch or an early stop).
void end_epoch(FoldRun& run, bool early_stop) {
  TrainingState& st = run.state;
  ++st.epoch;
  st.batch = 0;
  st.training_done = false;
  st.loss_sum = st.epoch_seconds = st.wait_seconds = 0.0;
  st.loss_count = 0;
  st.finished = early_stop || st.epoch >= run.config.epochs;
  save_last(run);
  if (run.writes()) write_learning_curve(run.paths.metrics, run.paths.curve);
}

// [train] max_nonfinite_steps skipped steps in a row: `last` keeps the weights and optimizer state of the
// last good step, and the run ends with an error that says what happened and what to try.
[[noreturn]] void gave_up_on_nonfinite_steps(FoldRun& run, const NonFiniteSteps& bad) {
  save_last(run);
  const std::string message =
      cat("[train] fold ", run.fold, ": ", run.state.nonfinite_in_a_row,
          " optimizer steps in a row had a non-finite loss or gradient (the last at ", bad.last,
          "); training stopped ([train] max_nonfinite_steps = ", run.config.max_nonfinite_steps, "). ", run.paths.last_state,
          " holds the weights and optimizer state of the last good step; a lower [optimizer] lr, a smaller "
          "[train] grad_clip or a look at the images of those batches may help (--resume meets the same batches)");
  run.log.file_only(message);  // the tool prints it as its error
  throw_error(message);
}

enum class EpochEnd { kNext, kEarlyStop, kInterrupted };

// One epoch of the loop: training (or its rest), validation when due, the metrics row, the reference's
// post-processing and early-stopping test, then `last`.
EpochEnd run_epoch(FoldRun& run, bool first_of_run, CsvLog& summary, CsvLog& metrics) {
  const TrainConfig& c = run.config;
  TrainingState& st = run.state;
  const int64_t epoch = st.epoch;
  apply_freeze(run, epoch, first_of_run);
  if (!st.training_done) {
    if (st.batch == 0) run.log.line(cat(epoch, " epoch: \t start training...."));
    if (!train_epoch(run)) return EpochEnd::kInterrupted;
  }
  if (stop_requested()) return EpochEnd::kInterrupted;
  run.log.line(cat(epoch, " epoch: \t Calculated train loss: ",
                   format_number(st.loss_sum / static_cast<double>(st.loss_count))));
  const double lr = run.adam->lr();
  std::optional<EpochValidation> validation;
  if (epoch % c.validation_frequency == c.validation_frequency - 1) {
    validation = validate_epoch(run, summary);
    if (!validation) return EpochEnd::kInterrupted;
  } else {
    run.log.line("skip validation....");
  }
  metrics.append(
      metrics_row(st, lr, validation ? &validation->result : nullptr, validation ? validation->seconds : 0.0));
  ++st.metrics_rows;
  bool early_stop = false;
  if (validation) {
    post_process(run, validation->result.best_score(), epoch);
    early_stop = epoch - st.best_epoch > c.early_stopping;
  }
  end_epoch(run, early_stop);
  return early_stop ? EpochEnd::kEarlyStop : EpochEnd::kNext;
}

TrainOutcome train_fold(const TrainConfig& c, const TrainOptions& options, const TrainDataset& dataset, int fold,
                        Communicator& comm, std::ostream& out, std::ostream& progress) {
  const FoldPaths paths = fold_paths(c, fold);
  const bool writes = comm.rank() == 0;
  if (writes) {
    fs::create_directories(paths.history);
    fs::create_directories(fs::path(paths.best).parent_path());
  }
  RunLog log(writes ? paths.log : "", out);
  FoldRun run(c, options, fold, paths, log, progress, dataset.split(fold), derive_seed(c.seed, static_cast<uint64_t>(fold)));
  run.comm = &comm;
  log.line(cat("fold ", fold, ": ", run.split.train.size(), " training images (", run.split.train_positives(),
               " positive), ", run.split.valid.size(), " validation images (", run.split.valid_positives(), " positive)"));
  const FoldStart start = fold_start(run);
  // Every rank has read the saved state before rank 0 writes a new one (set_up).
  comm.barrier();
  if (start == FoldStart::kSkip) return TrainOutcome::kFinished;

  CsvLog summary = summary_csv(paths.summary, c.triplets), metrics = metrics_csv(paths.metrics);
  if (!writes) {
    summary.set_read_only();
    metrics.set_read_only();
  }
  set_up(run, dataset, start == FoldStart::kResume, summary, metrics);
  if (c.validate_only) {
    const TrainOutcome outcome = validate_only(run, summary, metrics);
    if (outcome == TrainOutcome::kFinished && options.after_fold) options.after_fold(fold, *run.model);
    return outcome;
  }
  for (bool first = true; run.state.epoch < c.epochs; first = false) {
    EpochEnd end = EpochEnd::kNext;
    try {
      end = run_epoch(run, first, summary, metrics);
    } catch (const NonFiniteSteps& bad) {
      gave_up_on_nonfinite_steps(run, bad);
    }
    if (end == EpochEnd::kInterrupted) return interrupted(run);
    if (end == EpochEnd::kEarlyStop) {
      log.line("EARLY STOPPING");
      break;
    }
  }
  if (options.after_fold) options.after_fold(fold, *run.model);
  const TrainingState& st = run.state;
  log.line(cat("fold ", fold, " done: best score ", format_number(st.best_score),
               st.best_epoch >= 0 ? cat(" at epoch ", st.best_epoch) : std::string(" (no better epoch in this run)")));
  return TrainOutcome::kFinished;
}

}  // namespace

std::string FoldPaths::epoch_checkpoint(int64_t epoch) const {
  return prefix + "_epoch" + std::to_string(epoch) + ".safetensors";
}

FoldPaths fold_paths(const TrainConfig& c, int fold) {
  FoldPaths p;
  const std::string k = std::to_string(fold);
  p.history = c.output + "/" + c.full_folder + "/fold" + k;
  p.prefix = p.history + "/" + c.pipeline + "_fold" + k;
  p.best = c.output + "/" + c.best_folder + "/" + c.pipeline + "_fold" + k + ".safetensors";
  p.last = p.prefix + "_last.safetensors";
  p.last_state = p.prefix + "_last_state.safetensors";
  p.summary = p.history + "/summary.csv";
  p.metrics = p.history + "/metrics.csv";
  p.curve = p.history + "/learning_curve.png";
  p.log = c.output + "/" + c.log_dir + "/train_fold" + k + ".log";
  return p;
}

TrainOutcome run_training(const TrainConfig& config, const TrainOptions& options, std::ostream& out,
                          std::ostream& progress) {
  Communicator& world = options.world ? *options.world : single_process();
  const TrainConfig c = with_rank_device(config, world);
  const PrecisionScope precision_scope(c.precision);  // bf16: convolutions round as tensor cores would
  const ConvAlgorithmChoiceScope algorithm_scope(c.cudnn_algorithms);
  // Several ranks on GPUs: NCCL sums the CUDA tensors (without it they go through the host).
  std::unique_ptr<Communicator> gpu;
  if (world.size() > 1 && c.device.is_cuda() && nccl_built()) gpu = make_gpu_communicator(world, c.device.index);
  Communicator& comm = gpu ? *gpu : world;
  const bool writes = comm.rank() == 0;
  // Rank 0 alone writes; the others print nothing but their errors (the tool's frame prints those).
  NullStream quiet;
  std::ostream& log_out = writes ? out : quiet;
  std::ostream& progress_out = writes ? progress : quiet;
  // One run per output folder (engine/folder_lock.h), held by rank 0 for all the ranks.
  std::optional<FolderLock> lock;
  if (writes) lock.emplace(c.output, "train_unet");
  if (writes) fs::create_directories(c.output + "/" + c.log_dir);
  RunLog log(writes ? c.output + "/" + c.log_dir + "/train_main.log" : "", log_out);
  log.line(cat("train_unet: pipeline ", c.pipeline, ", model ", c.model, " at ", c.size, "x", c.size, " on ",
               c.device.str(), " in ", precision_name(c.precision), ", config ", c.file, " (hash ", config_hash(c), ")"));
  log.line(cat("world: ", comm.describe(),
               comm.size() == 1 ? std::string()
                                : cat("; batch ", c.batch_size, " per rank, ", c.batch_size * comm.size(),
                                      " per step; batch norm ", c.sync_bn ? "synchronised (sync_bn)" : "per rank",
                                      "; rank 0 writes the files; ", num_threads(), " CPU thread(s) per rank")));
  log.file_only(config_text(c));
  // Checkpoints, CSVs and curves half-written by a killed run (engine/file_io.h): up to 415 MB each.
  if (const int stale = writes ? remove_stale_temporaries(c.output, true) : 0; stale > 0) {
    log.line(cat("removed ", stale, " temporary file(s) left in ", c.output, " by an interrupted run"));
  }
  const TrainDataset dataset = TrainDataset::open({c.cache, c.images, c.labels}, c.folds_file);
  const int num_folds = dataset.folds().num_folds;
  log.line(cat("data: ", dataset.describe(), ", ", dataset.entries().size(), " images in ", num_folds, " folds (",
               c.folds_file, ")"));
  PLEURA_CHECK(c.folds_number == 0 || c.folds_number == num_folds, c.where("folds.number"), ": ", c.folds_number,
               " folds, but ", c.folds_file, " has ", num_folds);
  std::vector<int> folds = c.folds_use;
  if (folds.empty()) {
    folds.resize(static_cast<size_t>(num_folds));
    std::iota(folds.begin(), folds.end(), 0);
  }
  for (int f : folds)
    PLEURA_CHECK(f < num_folds, c.where("folds.use"), ": fold ", f, " but ", c.folds_file, " has folds 0..",
                 num_folds - 1);
  for (int fold : folds) {
    // Between folds: nothing of this fold to save (the ranks agree, so that all of them stop).
    if (agree_on_stop(comm)) return TrainOutcome::kInterrupted;
    log.line(cat("Start training of ", fold, " fold...."));
    if (train_fold(c, options, dataset, fold, comm, log_out, progress_out) == TrainOutcome::kInterrupted)
      return TrainOutcome::kInterrupted;
  }
  return TrainOutcome::kFinished;
}

}  // namespace pleura
