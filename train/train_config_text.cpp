// config_text and config_hash (train/train_config.h): the effective settings of a run as INI-like lines,
// logged at its start and hashed into its checkpoints. Tests: tests/train/test_train_config.cpp.
#include "train/train_config.h"

#include "engine/hash.h"
#include "train/train_log.h"

namespace pleura {

namespace {

std::string num(double v) { return format_number(v); }  // shortest text that reads back to the same double

std::string ints(const std::vector<int>& v) {
  std::string s;
  for (int x : v) {
    if (!s.empty()) s.push_back(',');
    s.append(std::to_string(x));
  }
  return s.empty() ? "all" : s;
}

// The lines of every setting except those that cannot change the result: [run] output, log_dir,
// device, workers and log_every, and [train] max_nonfinite_steps.
std::string result_settings(const TrainConfig& c) {
  const auto& a = c.augment;
  std::string s;
  auto line = [&](const std::string& key, const std::string& value) { s += key + " = " + value + "\n"; };
  line("run.pipeline", c.pipeline);
  line("run.seed", std::to_string(c.seed));
  line("data.cache", c.cache);
  line("data.images", c.images);
  line("data.labels", c.labels);
  line("data.size", std::to_string(c.size));
  line("data.normalization", augment::normalization_name(c.normalization));
  line("folds.file", c.folds_file);
  line("folds.number", std::to_string(c.folds_number));
  line("folds.use", ints(c.folds_use));
  line("model.name", c.model);
  line("model.pretrained_encoder", c.pretrained_encoder);
  line("model.freeze_encoder_epochs", std::to_string(c.freeze_encoder_epochs));
  line("model.validate_only", c.validate_only ? "true" : "false");
  line("init.folder", c.init_folder);
  line("init.pipeline", c.init_pipeline);
  line("sampler.enabled", c.use_sampler ? "true" : "false");
  line("sampler.rate_start", num(c.rate_start));
  line("sampler.rate_end", num(c.rate_end));
  line("augment.hflip.p", num(a.hflip.p));
  line("augment.intensity.p", num(a.intensity.p));
  line("augment.intensity.contrast", num(a.intensity.contrast.weight) + " " + num(a.intensity.contrast.limit));
  line("augment.intensity.gamma", num(a.intensity.gamma.weight) + " " + std::to_string(a.intensity.gamma.gamma_min) +
                                      " " + std::to_string(a.intensity.gamma.gamma_max));
  line("augment.intensity.brightness",
       num(a.intensity.brightness.weight) + " " + num(a.intensity.brightness.limit));
  line("augment.distortion.p", num(a.distortion.p));
  line("augment.distortion.elastic", num(a.distortion.elastic.weight) + " " + num(a.distortion.elastic.alpha) + " " +
                                         num(a.distortion.elastic.sigma) + " " +
                                         num(a.distortion.elastic.alpha_affine));
  line("augment.distortion.grid", num(a.distortion.grid.weight) + " " + std::to_string(a.distortion.grid.num_steps) +
                                      " " + num(a.distortion.grid.distort_limit));
  line("augment.distortion.optical", num(a.distortion.optical.weight) + " " +
                                         num(a.distortion.optical.distort_limit) + " " +
                                         num(a.distortion.optical.shift_limit));
  line("augment.shift_scale_rotate", num(a.shift_scale_rotate.p) + " " + num(a.shift_scale_rotate.shift_limit) +
                                         " " + num(a.shift_scale_rotate.scale_limit) + " " +
                                         num(a.shift_scale_rotate.rotate_limit));
  line("loss", num(c.loss.w_bce) + " " + num(c.loss.w_dice) + " " + num(c.loss.w_focal));
  line("optimizer", "adam lr " + num(c.lr) + " weight_decay " + num(c.weight_decay));
  switch (c.scheduler) {
    case SchedulerType::kPlateau:
      line("scheduler", "plateau factor " + num(c.plateau.factor) + " patience " + std::to_string(c.plateau.patience) +
                            " threshold " + num(c.plateau.threshold) + " min_lr " + num(c.plateau.min_lr));
      break;
    case SchedulerType::kCosine:
      line("scheduler", "cosine t_max " + std::to_string(c.cosine.t_max) + " eta_min " + num(c.cosine.eta_min));
      break;
    case SchedulerType::kWarmRestarts:
      line("scheduler", "warm_restarts t_0 " + std::to_string(c.warm_restarts.t_0) + " t_mult " +
                            std::to_string(c.warm_restarts.t_mult) + " eta_min " + num(c.warm_restarts.eta_min));
      break;
  }
  line("train.epochs", std::to_string(c.epochs));
  line("train.batch_size", std::to_string(c.batch_size));
  line("train.grad_accum", std::to_string(c.grad_accum));
  line("train.grad_clip", num(c.grad_clip));
  line("train.early_stopping", std::to_string(c.early_stopping));
  // Only when on, so that the hashes of configurations made before the key existed stay the same.
  if (c.sync_bn) line("train.sync_bn", "true");
  if (c.precision != Precision::kFloat32) line("train.precision", precision_name(c.precision));
  line("validation.frequency", std::to_string(c.validation_frequency));
  line("validation.average", c.average == ScoreAverage::kPerImage ? "per_image" : "per_batch");
  std::string triplets;
  for (const Triplet& t : c.triplets)
    triplets += (triplets.empty() ? "" : ", ") + num(t.top) + " " + std::to_string(t.min_area) + " " + num(t.bottom);
  line("validation.triplets", triplets);
  line("checkpoints.full_folder", c.full_folder);
  line("checkpoints.best_folder", c.best_folder);
  line("checkpoints.topk", std::to_string(c.topk));
  return s;
}

}  // namespace

std::string config_text(const TrainConfig& c) {
  // max_nonfinite_steps only decides when a failing run gives up, so a resume may change it; nor do the
  // run settings below change what the run computes (cudnn_algorithms only its last bits).
  std::string s = result_settings(c) + "run.output = " + c.output + "\nrun.log_dir = " + c.log_dir +
                  "\nrun.device = " + c.device.str() + "\nrun.workers = " + std::to_string(c.workers) +
                  "\nrun.log_every = " + std::to_string(log_interval(c));
  if (c.cuda_graphs) s += "\nrun.cuda_graphs = true";
  if (c.cudnn_algorithms != ConvAlgorithmChoice::kMeasured)
    s += cat("\nrun.cudnn_algorithms = ", conv_algorithm_choice_name(c.cudnn_algorithms));
  return s + "\ntrain.max_nonfinite_steps = " + std::to_string(c.max_nonfinite_steps) + "\n";
}

std::string config_hash(const TrainConfig& c) { return fnv1a_hex(result_settings(c)); }

}  // namespace pleura
