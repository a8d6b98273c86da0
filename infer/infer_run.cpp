// The infer_unet run (see infer_run.h).
#include "infer/infer_run.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "engine/fast_convolutions.h"
#include "engine/alloc_context.h"
#include "engine/error.h"
#include "engine/file_io.h"
#include "engine/folder_lock.h"
#include "engine/host_allocator.h"
#include "engine/interrupt.h"
#include "data/jobs.h"
#include "data/progress.h"
#include "infer/inputs.h"
#include "infer/predict.h"

namespace fs = std::filesystem;

namespace pleura::infer {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The output folder must be new to this run's settings: no maps, or (resume) maps with a record equal to
// ours. Returns the ImageIds already done.
std::vector<std::string> prepare_output(const InferOptions& o, const std::string& settings) {
  fs::create_directories(o.output);
  remove_stale_temporaries(o.output);
  const std::string record = (fs::path(o.output) / kSettingsFile).string();
  const std::vector<std::string> existing = existing_map_ids(o.output);
  // A run that failed or was stopped before its first map leaves only its record: nothing to keep, so a
  // rerun with or without --resume, with any settings, starts afresh (the record is rewritten).
  if (existing.empty()) return {};
  if (!o.resume) {
    throw_error(cat("output folder ", o.output, " already holds ", existing.size(), " map(s)",
                    fs::exists(record) ? cat(" and ", kSettingsFile) : std::string(),
                    " from an earlier run: continue it with --resume (resume = true), or choose an empty folder"));
  }
  PLEURA_CHECK(fs::exists(record), "--resume: output folder ", o.output, " holds ", existing.size(), " map(s) but no ",
               kSettingsFile, ": not an infer_unet output; choose an empty folder");
  const std::string before = read_file(record);
  if (before != settings) {
    // Name the first line that differs.
    std::istringstream a(before), b(settings);
    std::string la, lb;
    while (std::getline(a, la) && std::getline(b, lb) && la == lb) {}
    throw_error(cat("--resume: ", record, " records other settings (it has '", la, "', this run '", lb,
                    "'); use the same settings or another output folder"));
  }
  return existing;
}

}  // namespace

std::string settings_text(const InferOptions& o, const std::vector<std::string>& checkpoints) {
  std::string s = "# infer_unet: the settings of the maps in this folder (infer_unet --resume compares them)\n";
  s += cat("model = ", o.model, "\nsize = ", o.size, "\nnormalization = ", augment::normalization_name(o.norm),
           "\nflip = ", o.flip ? "true" : "false", "\nformat = ", map_format_name(o.format), "\ninput = ", o.input, "\n");
  // Only when not fp32, so that folders written before the setting existed still resume.
  if (o.precision != Precision::kFloat32) s += cat("precision = ", precision_name(o.precision), "\n");
  if (o.exact_convolutions) s += "exact_convolutions = true\n";
  for (const std::string& c : checkpoints) s += cat("checkpoint = ", c, "\n");
  return s;
}

std::vector<std::string> resolve_checkpoints(const InferOptions& o) {
  std::vector<std::string> list = o.pipeline ? pipeline_checkpoints(*o.pipeline) : o.weights;
  check_checkpoint_files(list);
  return list;
}

InferSummary run_inference(const InferOptions& o, std::ostream& log, bool terminal) {
  PLEURA_CHECK(o.batch >= 1 && o.workers >= 1, "[run_inference] batch ", o.batch, ", workers ", o.workers);
  PLEURA_CHECK(!o.cuda_graphs || o.device.is_cuda(), "cuda_graphs (--cuda-graphs) needs a CUDA device, the device is ",
               o.device.str());
  check_model_and_size(o.model, o.size);
  // A forward pass walks through many tensor sizes once per image: the host cache's inference policy, a pool
  // held within the live tensors' peak and, batch after batch, the plan of the first (CheckpointEnsemble::predict;
  // engine/host_allocator.h).
  set_host_cache_policy(HostCachePolicy::kWithinLivePeak);
  InferSummary summary;
  const InputSet inputs = find_inputs(o.input, o.output);  // an --output inside --input holds no input
  summary.images = static_cast<int64_t>(inputs.images.size());
  const std::vector<std::string> checkpoints = resolve_checkpoints(o);
  summary.checkpoints = checkpoints.size();
  const PrecisionScope precision_scope(o.precision);
  const ConvAlgorithmChoiceScope algorithm_scope(o.cudnn_algorithms);
  const FastInferenceConvolutionsScope winograd_scope(!o.exact_convolutions);
  const std::string settings = settings_text(o, checkpoints);
  const FolderLock lock(o.output, "infer_unet");  // one run per output folder (engine/folder_lock.h)
  const std::vector<std::string> done = prepare_output(o, settings);

  std::vector<InferInput> todo;
  for (const InferInput& in : inputs.images)
    if (!std::binary_search(done.begin(), done.end(), in.image_id) ||
        !fs::exists(map_path(o.output, in.image_id, o.format)))
      todo.push_back(in);
  summary.resumed = summary.images - static_cast<int64_t>(todo.size());

  log << "infer_unet: " << inputs.images.size() << " images (" << input_kind_name(inputs.kind) << " " << o.input
      << ")" << (summary.resumed ? cat(", ", summary.resumed, " already done") : std::string()) << "; "
      << checkpoints.size() << " checkpoint(s) of " << o.model << " on " << o.device.str()
      << (o.precision != Precision::kFloat32 ? cat(" in ", precision_name(o.precision)) : std::string()) << ":\n";
  for (const std::string& c : checkpoints) log << "  " << c << "\n";
  if (fast_inference_convolutions() && fast_inference_convolutions_run_on(o.device))
    log << "  3x3 convolutions by Winograd F(4x4,3x3) (--exact-convolutions for exact ones)\n";
  set_workload(cat("inference of ", o.model, " at ", o.size, "x", o.size, ", batch ", o.batch,
                   o.flip ? " with flip TTA" : ""));
  const auto load_start = std::chrono::steady_clock::now();
  const CheckpointEnsemble ensemble(o.model, checkpoints, o.device, o.cuda_graphs,
                                    [&log](const std::string& note) { log << "  " << note << "\n"; });
  if (o.cuda_graphs) log << "  forward passes as CUDA graphs (captured at each batch shape's second batch)\n";
  summary.load_seconds = seconds_since(load_start);
  write_file_atomic((fs::path(o.output) / kSettingsFile).string(), settings);

  const auto start = std::chrono::steady_clock::now();
  const int64_t S = o.size, plane = S * S;
  data::Progress progress(log, "infer_unet", static_cast<int64_t>(todo.size()), terminal);
  for (size_t b0 = 0; b0 < todo.size(); b0 += static_cast<size_t>(o.batch)) {
    throw_if_stop_requested("; the maps written so far are complete, --resume continues");
    const int64_t n = std::min<int64_t>(o.batch, static_cast<int64_t>(todo.size() - b0));
    Tensor x = Tensor::empty({n, 3, S, S}, DType::kFloat32);
    data::run_jobs(n, o.workers, [&](int64_t i) {
      const GrayImage image = load_input(todo[b0 + static_cast<size_t>(i)], S);
      augment::write_image_chw(image, o.norm, x.data<float>() + i * 3 * plane);
    });
    const Tensor maps = ensemble.predict(x, o.flip);
    data::run_jobs(n, o.workers, [&](int64_t i) {
      write_map(o.output, todo[b0 + static_cast<size_t>(i)].image_id, maps.data<float>() + i * plane, S, S, o.format);
    });
    summary.written += n;
    progress.advance(n);
  }
  progress.finish();
  summary.predict_seconds = seconds_since(start);
  return summary;
}

}  // namespace pleura::infer
