// The configuration of a training run (tools/train_unet): an INI file, read strictly into a typed,
// validated TrainConfig. Reader in train/train_config.cpp (the [augment] and [validation] sections in
// train/train_config_sections.cpp); tests in tests/train/test_train_config.cpp; the INI versions of the
// solution's experiments in configs/ (configs/README.md explains them).
//
// Every setting of the solution's train_config_*.yaml has a key (YAML name in brackets). Relative paths
// are taken from the current directory, as the reference took them from unet_pipeline/. Keys without a
// default are required; an unknown section or key, a malformed or out-of-range value, a file or folder
// that does not exist, an unknown model name or a bad triplet list is an error naming file:line.
//
// [run]
//   pipeline = albunet_1024      (PIPELINE_NAME) names the checkpoints: <pipeline>_fold<k>.safetensors
//   output = experiments/x       the experiment folder (the reference used the YAML's folder); created
//   log_dir = log                (LOGGER_DIR) under output: train_main.log, train_fold<k>.log
//   seed = 42                    (SEED) model initialisation, sampler and augmentations derive from it
//   device = cpu                 (DEVICE, DEVICE_LIST) cpu, cuda or cuda:N (one device)
//   workers = 2                  (WORKERS) loader threads; results do not depend on it
//   log_every = 0                (Pleura) batches between the host's readings of the training loss and
//                                of skipped steps, kept on the device meanwhile (engine/ops/step_ledger.h):
//                                the only waits for the device in a training step; 0: every batch on the
//                                CPU, every 20 on CUDA. Results do not depend on it
//   cuda_graphs = false          (Pleura) true: each epoch's training batches run as one CUDA graph (the
//                                first as it is, the second captured, the rest replayed: one launch instead
//                                of thousands, the same kernels in the same order, so the same results).
//                                Needs a cuda device and grad_accum = 1; one process (not with mpirun)
//   cudnn_algorithms = measured  (Pleura) measured: cuDNN's convolution algorithms timed at first use of
//                                each shape, the fastest kept (cudnn.benchmark); reproducible: cuDNN's
//                                ranking, deterministic ones first, the same bits in every run
//                                (engine/conv_algorithm_choice.h). No effect on the CPU
// [data] either a prepared cache or a DICOM tree with labels:
//   cache = dataset1024          (DATA_DIRECTORY) tools/prepare_data's output: images/, masks/, manifest.csv
//   images = dicom-images-train  a SIIM tree of DICOM (or PNG) files, decoded per item, and
//   labels = train-rle.csv       its RLE labels (masks drawn per item); used only without `cache`
//   size = 1024                  the transforms' Resize (a multiple of 64 for albunet, 32 otherwise)
//   normalization = unit         unit (x/255, the *_old transforms) or imagenet (the other transforms)
// [folds]
//   file = folds.csv             (FOLD.FILE) fname,fold,exist_labels
//   number = 5                   (FOLD.NUMBER) optional; checked against the file when given
//   use = 0,1,2,3,4              (FOLD.USEFOLDS) trained one after the other; default: every fold
// [model]
//   name = albunet               (MODEL.CLASS) albunet, resnet50_unet or scse_unet
//   pretrained_encoder = f.st    (MODEL.ARGS.pretrained) optional ImageNet encoder (layers/pretrained.h)
//   freeze_encoder_epochs = 0    encoder frozen (no gradient, no update) during the first N epochs
//   validate_only = false        (MODEL.FREEZE) true: no training; one validation pass and its summary row
// [init] optional (MODEL.PRETRAINED): start each fold from <folder>/<pipeline>_fold<k>.safetensors
//   folder = experiments/x/checkpoints   (PIPELINE_PATH/CHECKPOINTS_FOLDER) a missing file is skipped
//   pipeline = albunet_1024              (PIPELINE_NAME)                       with a log line
// [sampler]
//   enabled = true               (USE_SAMPLER) false: every training image once per epoch, shuffled
//   rate = 0.8                   (NON_EMPTY_MASK_PROBA) share of positives per epoch, fixed; or
//   rate_start, rate_end         sliding linearly from the first epoch to the last (data/sampler.h)
// [augment] (TRAIN_TRANSFORMS) every field of data/augment/config.h under its dotted name, e.g.
//   hflip.p = 0.5, intensity.p = 0.3, intensity.gamma.gamma_min = 80, distortion.elastic.alpha = 120,
//   shift_scale_rotate.rotate_limit = 45; defaults: the solution's pipeline. Validation and the
//   VALID_TRANSFORMS are a resize to [data] size only.
// [loss] (CRITERION ComboLoss weights)   bce = 3, dice = 1, focal = 4
// [optimizer] (OPTIMIZER)   type = adam (the only one), lr = 0.0001, weight_decay = 0.000005
// [scheduler] (SCHEDULER), stepped once per validated epoch:
//   type = plateau (ReduceLROnPlateau: mode = max, factor = 0.1, patience = 2, threshold = 1e-7, min_lr = 1e-7)
//        | cosine (CosineAnnealingLR: t_max = 8, eta_min = 1e-7)
//        | warm_restarts (CosineAnnealingWarmRestarts: t_0 = 1, t_mult = 2, eta_min = 0)
//   Keys of another type than the chosen one are errors.
// [train]
//   epochs = 50                  (EPOCHES)
//   batch_size = 2               (BATCH_SIZE)
//   grad_accum = 1               (GRADIENT_ACCUMULATION_STEPS)
//   grad_clip = 0.1              (GRADIENT_CLIPPING) global L2 norm; 0 turns clipping off
//   early_stopping = 10          (EARLY_STOPPING) stop when epoch - best_epoch > early_stopping
//   max_nonfinite_steps = 5      (Pleura) an optimizer step whose loss or gradient is NaN or infinite is
//                                skipped (weights and Adam state unchanged); this many in a row stop the run
//   precision = fp32             (Pleura) fp32, or bf16: convolutions in bfloat16 with float32 accumulation,
//                                batch norm statistics, the loss, Adam and the saved weights in float32
//                                (engine/precision.h); the CPU rounds where a GPU would
//   sync_bn = false              (Pleura) data-parallel runs (mpirun): batch norm statistics over every
//                                rank's images (equal to one process with the whole batch); false: each
//                                rank's own, as PyTorch's DDP. batch_size is per rank: the batch of a step
//                                is batch_size x ranks
// [validation]
//   frequency = 1                (VALIDATION_FREQUENCY) validate after epochs f-1, 2f-1, ...
//   average = per_image          per_image (default: the Kaggle score, independent of the batch size)
//                                or per_batch (EVALUATION_METRIC per_image: True as the reference's loop
//                                averaged it: per-image dice averaged per batch, then over batches)
//   triplets = 0.75 1000 0.3, 0.6 2000 0.4   (MASK_BINARIZER triplets) "top area bottom" items; or
//   tops = 0.3,0.5  areas = 0,100  bottoms = 0.2,0.3   the full grid (top outermost, then area, bottom)
//   Default: the grid of every solution config (train/triplet_search.h: config_triplets()).
// [checkpoints] (CHECKPOINTS)
//   full_folder = checkpoints    (FULL_FOLDER) under output: fold<k>/ with the top-k, last, summary.csv
//   best_folder = checkpoints    (BEST_FOLDER) under output: <pipeline>_fold<k>.safetensors
//   topk = 3                     (TOPK)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/conv_algorithm_choice.h"
#include "engine/precision.h"
#include "engine/ops/combo_loss.h"
#include "engine/ops/triplet_mask.h"
#include "data/augment/config.h"
#include "data/augment/normalize.h"
#include "train/metric.h"
#include "train/scheduler.h"

namespace pleura {

enum class SchedulerType { kPlateau, kCosine, kWarmRestarts };
const char* scheduler_type_name(SchedulerType type);

struct TrainConfig {
  // [run]
  std::string pipeline;
  std::string output;
  std::string log_dir = "log";
  uint64_t seed = 42;
  Device device = Device::cpu();
  int workers = 2;
  int64_t log_every = 0;            // 0: log_interval's default for the device
  bool cuda_graphs = false;
  ConvAlgorithmChoice cudnn_algorithms = ConvAlgorithmChoice::kMeasured;
  // [data]
  std::string cache;                // set: the prepared cache; empty: images + labels
  std::string images, labels;
  int64_t size = 0;
  augment::Normalization normalization = augment::Normalization::kUnit;
  // [folds]
  std::string folds_file;
  int folds_number = 0;             // 0: not given
  std::vector<int> folds_use;       // empty: every fold of the file
  // [model]
  std::string model;
  std::string pretrained_encoder;   // empty: none
  int64_t freeze_encoder_epochs = 0;
  bool validate_only = false;
  // [init]
  std::string init_folder, init_pipeline;  // both empty: no initialisation from a previous stage
  // [sampler]
  bool use_sampler = true;
  double rate_start = 0.8, rate_end = 0.8;
  // [augment]
  augment::AugmentConfig augment;   // .size = size
  // [loss]
  ComboLossParams loss;
  // [optimizer]
  double lr = 1e-4;
  double weight_decay = 5e-6;
  // [scheduler]
  SchedulerType scheduler = SchedulerType::kPlateau;
  PlateauOptions plateau;
  CosineOptions cosine{8, 1e-7};
  WarmRestartsOptions warm_restarts{1, 2, 0.0};
  // [train]
  int64_t epochs = 50;
  int64_t batch_size = 2;
  int64_t grad_accum = 1;
  double grad_clip = 0.1;
  int64_t early_stopping = 10;
  int64_t max_nonfinite_steps = 5;
  bool sync_bn = false;
  Precision precision = Precision::kFloat32;
  // [validation]
  int64_t validation_frequency = 1;
  ScoreAverage average = ScoreAverage::kPerImage;
  std::vector<Triplet> triplets;
  // [checkpoints]
  std::string full_folder = "checkpoints";
  std::string best_folder = "checkpoints";
  int64_t topk = 3;

  // Where each value came from, "file:line: [section] key" (or "--set ..."), keyed "section.key";
  // for errors found after loading (e.g. an image size the model refuses).
  std::map<std::string, std::string> origin;
  std::string file;  // the INI file
  std::string where(const std::string& section_key) const;
};

// [run] log_every, or its default for the device: 1 on the CPU (a reading costs nothing there), 20 on
// CUDA (each reading makes the host wait for the device).
int64_t log_interval(const TrainConfig& config);
int64_t default_log_interval(Device device);

// Reads `path`, applies the "section.key=value" overrides, validates everything and checks that the
// files and folders named exist. Throws pleura::Error with file:line.
TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides = {});
// The same from INI text (tests); `name` stands for the file name in messages.
TrainConfig parse_train_config(const std::string& text, const std::string& name,
                               const std::vector<std::string>& overrides = {});

// Every setting as "section.key = value" lines in a fixed order (logged at the start of a run).
std::string config_text(const TrainConfig& config);
// A 64-bit FNV-1a hash (16 hex digits) of config_text without the settings that cannot change the
// result ([run] output, log_dir, device, workers, log_every and cuda_graphs, [train] max_nonfinite_steps): --resume refuses a state
// another configuration made.
std::string config_hash(const TrainConfig& config);

}  // namespace pleura
