// infer_unet: images -> probability maps with one UNet and a list of checkpoints (infer/infer_run.h), set by
// flags or by CONFIG.ini [--set section.key=value ...]; --overlays then writes predictions to review
// (eval/review.h). Stops between batches on SIGINT / SIGTERM; --resume continues. Tests:
// tests/tools/test_infer_unet.cpp, tests/tools/test_infer_unet_flags.cpp, tests/tools/test_review_tools.cpp.
#include "tools/infer_unet.h"

#include <filesystem>
#include <set>
#include <sstream>

#include "data/augment/normalize.h"
#include "data/csv.h"
#include "data/image_io.h"
#include "data/jobs.h"
#include "eval/review.h"
#include "eval/triplet_args.h"
#include "infer/infer_run.h"
#include "infer/inputs.h"
#include "tools/tools.h"

namespace fs = std::filesystem;

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Predicts pneumothorax probability maps with one UNet and one or more checkpoints, as the reference's\n"
    "Inference.py: each image is resized to N x N (cv2 INTER_LINEAR) and normalised; per checkpoint\n"
    "p = sigmoid(model(x)), with --flip p = (p + hflip(p of the flipped image)) / 2; the maps of the\n"
    "checkpoints are averaged by a running mean in list order (float32). One map per ImageId, N x N:\n"
    "<ImageId>.npy (float32, exact) or <ImageId>.png (8-bit v = floor(p*255 + 0.5), read back as v/255),\n"
    "each written atomically. All checkpoints stay loaded (memory: their weights plus one batch).\n"
    "\n"
    "  infer_unet --model NAME (--weights FILE[,FILE...] | --pipeline DIR ...) --input DIR --output DIR --size N\n"
    "  infer_unet CONFIG.ini [--set section.key=value ...]   (configs/*_infer.ini; configs/README_infer.md)\n"
    "\n"
    "Ensembles of several models or pipelines are not made here: run infer_unet once per pipeline, then\n"
    "rle_submit --probs DIR1:W1 --probs DIR2:W2 ... averages the folders with weights (TripletSubmit's\n"
    "RESULT_WEIGHTS).\n"
    "\n"
    "--overlays DIR (with --triplet, either mode): once the maps are written, predictions to review: per map\n"
    "DIR/<ImageId>.png, the input image at --overlay-size with the outline of the mask rle_submit would submit\n"
    "at that size (red; --min-component as rle_submit's) and, with --labels, of the truth (green), the ImageId, the map's maximum probability\n"
    "and the per-image dice (at --overlay-size) in a band on top; and DIR/index.html, thumbnails worst first\n"
    "(false positives, false negatives, lowest dice; without labels, highest probability first).";

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  for (std::string_view f : data::split_fields(text)) items.emplace_back(data::trim(f));
  return items;
}

// Flag mode has required options; they are checked here because CONFIG.ini mode has none of them.
void require_flags(const CLI::App& app) {
  for (const char* name : {"--model", "--input", "--output", "--size"}) {
    if (app.count(name) == 0) {
      throw UsageError(cat("missing required option ", name, " ", app.get_option(name)->get_type_name()));
    }
  }
}

std::vector<std::string> weight_files(const InferFlags& f, const CLI::App& app) {
  for (const char* name :
       {"--pipeline-name", "--best", "--top-k", "--epochs", "--folds", "--best-folder", "--full-folder"})
    if (app.count(name)) throw UsageError(cat("option ", name, " needs --pipeline"));
  std::vector<std::string> files;
  for (const std::string& list : f.weights)
    for (const std::string& file : split_commas(list)) {
      if (file.empty()) throw UsageError(cat("option --weights: empty file name in '", list, "'"));
      if (!fs::is_regular_file(file)) throw UsageError(cat("--weights '", file, "' does not exist or is not a file"));
      files.push_back(file);
    }
  return files;
}

void select_epochs(const InferFlags& f, const CLI::App& app, infer::PipelineSelection& s) {
  s.selection = infer::Selection::kEpochs;
  if (app.count("--folds")) throw UsageError("option --folds goes with --best or --top-k (--epochs names its folds)");
  if (app.count("--best-folder")) throw UsageError("option --best-folder goes with --best");
  std::set<int64_t> folds;
  for (const std::string& text : f.epochs) {
    s.epochs.push_back(as_usage([&] { return infer::parse_fold_epochs("option --epochs", text); }));
    if (!folds.insert(s.epochs.back().first).second)
      throw UsageError(cat("option --epochs: fold ", s.epochs.back().first, " given twice"));
  }
}

void select_best_or_top_k(const InferFlags& f, const CLI::App& app, infer::PipelineSelection& s) {
  s.selection = f.best ? infer::Selection::kBest : infer::Selection::kTopK;
  if (!app.count("--folds")) throw UsageError(cat("option --", f.best ? "best" : "top-k", " needs --folds"));
  s.folds = as_usage([&] { return infer::parse_index_list("option --folds", f.folds); });
  if (s.selection == infer::Selection::kTopK) {
    s.top_k = f.top_k;
    if (app.count("--best-folder")) throw UsageError("option --best-folder goes with --best");
  } else if (app.count("--full-folder")) {
    throw UsageError("option --full-folder goes with --top-k or --epochs");
  }
}

infer::PipelineSelection pipeline_selection(const InferFlags& f, const CLI::App& app) {
  infer::PipelineSelection s;
  s.path = f.pipeline;
  if (!app.count("--pipeline-name")) throw UsageError("option --pipeline needs --pipeline-name");
  s.name = f.pipeline_name;
  const int modes = int(app.count("--best") > 0) + int(app.count("--top-k") > 0) + int(app.count("--epochs") > 0);
  if (modes != 1) throw UsageError("option --pipeline needs exactly one of --best, --top-k K, --epochs FOLD:E,...");
  if (app.count("--epochs")) {
    select_epochs(f, app, s);
  } else {
    select_best_or_top_k(f, app, s);
  }
  s.best_folder = f.best_folder;
  s.full_folder = f.full_folder;
  if (!fs::is_directory(s.path)) throw UsageError(cat("--pipeline '", s.path, "' is not a folder"));
  return s;
}

}  // namespace

void declare_infer_flags(CLI::App& app, InferFlags& f) {
  f.workers = data::default_job_threads();
  app.add_option("--model", f.model, "albunet, resnet50_unet or scse_unet")->type_name("NAME");
  app.add_option("--weights", f.weights, "checkpoint files (.safetensors state dicts), averaged in this order")
      ->type_name("FILE[,FILE...]");
  app.add_option("--pipeline", f.pipeline,
                 "instead of --weights: a train_unet output folder (the YAML's PIPELINE_PATH)")
      ->type_name("DIR");
  app.add_option("--pipeline-name", f.pipeline_name, "with --pipeline: the checkpoints' prefix (PIPELINE_NAME)")
      ->type_name("NAME");
  app.add_flag("--best", f.best,
               "with --pipeline: each fold's best checkpoint, <best-folder>/<name>_fold<k>.safetensors");
  app.add_option("--top-k", f.top_k, "with --pipeline: each fold's K best epochs by summary.csv whose files exist")
      ->type_name("K")
      ->check(int_in(1, 1000));
  app.add_option("--epochs", f.epochs, "with --pipeline: these epochs of this fold (SELECTED_CHECKPOINTS)")
      ->type_name("FOLD:E[,E...]");
  app.add_option("--folds", f.folds, "with --best or --top-k: the folds, in order (USEFOLDS)")->type_name("K[,K...]");
  app.add_option("--best-folder", f.best_folder, "with --best: folder under --pipeline (default checkpoints)")
      ->type_name("DIR");
  app.add_option("--full-folder", f.full_folder,
                 "with --top-k / --epochs: folder under --pipeline (default checkpoints)")
      ->type_name("DIR");
  app.add_option("--input", f.input, "a DICOM tree, a folder of PNG/JPEG files, or a prepare_data cache")
      ->type_name("DIR");
  app.add_option("--output", f.output, "folder for the maps <ImageId>.npy / .png")->type_name("DIR");
  app.add_option("--size", f.size, "input side after the resize (cv2 INTER_LINEAR); maps are N x N")
      ->type_name("N")
      ->check(int_in(1, data::kMaxImageSide));
  app.add_flag("--flip", f.flip, "horizontal-flip TTA: the mean of p and the un-flipped p of the flipped image");
  app.add_option("--norm", f.norm, "unit (x/255, the *_old transforms; default) or imagenet")->type_name("NORM");
  app.add_option("--format", f.format, "npy (float32, exact; default) or png (8-bit, round(p*255))")->type_name("FMT");
  app.add_option("--device", f.device, "cpu (default), cuda or cuda:N")->type_name("DEV");
  app.add_option("--precision", f.precision, "fp32 (default) or bf16: convolutions in bfloat16")->type_name("P");
  app.add_flag("--exact-convolutions", f.exact_convolutions,
               "on the CPU, no Winograd F(4x4,3x3) for the 3x3 convolutions (about twice as slow, exact)");
  app.add_flag("--cuda-graphs", f.cuda_graphs,
               "on a GPU, each checkpoint's forward passes as one CUDA graph per batch shape (the same maps)");
  app.add_option("--cudnn-algorithms", f.cudnn_algorithms,
                 "on a GPU, measured (default: cuDNN's algorithms timed at first use, the fastest kept) or "
                 "reproducible (cuDNN's ranking: the same bits in every run)")
      ->type_name("C");
  app.add_option("--batch", f.batch, "images per forward pass (default 2)")->type_name("N")->check(int_in(1, 4096));
  app.add_option("--workers", f.workers, "threads reading images and writing maps (default: all hardware threads)")
      ->type_name("N")
      ->check(int_in(1, 1024));
  app.add_flag("--resume", f.resume,
               "continue an interrupted run: skip images whose map exists (same settings required)");
}

void declare_overlay_flags(CLI::App& app, OverlayFlags& f) {
  app.add_option("--overlays", f.dir, "also write predictions to review: DIR/<ImageId>.png and DIR/index.html")
      ->type_name("DIR");
  app.add_option("--triplet", f.triplet, "with --overlays: the thresholds of the drawn mask, e.g. 0.75,1000,0.3")
      ->type_name("TOP,AREA,BOTTOM");
  app.add_option("--labels", f.labels, "with --overlays: the truth, an RLE label file (ImageId,EncodedPixels)")
      ->type_name("CSV");
  app.add_option("--label-size", f.label_size, "with --labels: the side the labels are decoded at (default 1024)")
      ->type_name("N")
      ->check(int_in(1, data::kMaxImageSide));
  app.add_option("--rle", f.rle, "with --labels: siim (relative, default) or standard (absolute)")
      ->type_name("FORM")
      ->check(one_of({"siim", "standard"}));
  app.add_option("--overlay-size", f.overlay_size,
                 "with --overlays: side of the overlays, and of the dice (default 512)")
      ->type_name("N")
      ->check(int_in(1, data::kMaxImageSide));
  app.add_option("--min-component", f.min_component,
                 "with --overlays: as rle_submit's, components under N pixels (at the map's size) are not drawn")
      ->type_name("N")
      ->check(int_in(0, int64_t{1} << 40));
}

std::optional<OverlaySettings> overlay_settings_from_flags(const OverlayFlags& f, const CLI::App& app) {
  if (!app.count("--overlays")) {
    for (const char* name : {"--triplet", "--labels", "--label-size", "--rle", "--overlay-size", "--min-component"})
      if (app.count(name)) throw UsageError(cat("option ", name, " goes with --overlays DIR"));
    return std::nullopt;
  }
  if (!app.count("--triplet"))
    throw UsageError(
        "option --overlays needs --triplet TOP,AREA,BOTTOM (the thresholds of the drawn mask, as rle_submit's)");
  for (const char* name : {"--label-size", "--rle"})
    if (app.count(name) && !app.count("--labels")) throw UsageError(cat("option ", name, " goes with --labels CSV"));
  OverlaySettings s;
  s.dir = f.dir;
  s.triplet = as_usage([&] { return eval::parse_triplet("triplet", f.triplet); });
  s.labels = f.labels;
  if (!s.labels.empty() && !fs::is_regular_file(s.labels))
    throw UsageError(cat("--labels '", s.labels, "' does not exist or is not a file"));
  s.rle = data::parse_rle_format(f.rle);
  s.label_size = f.label_size;
  s.overlay_size = f.overlay_size;
  s.min_component = f.min_component;
  return s;
}

infer::InferOptions infer_options_from_flags(const InferFlags& f, const CLI::App& app) {
  require_flags(app);
  infer::InferOptions o;
  o.model = f.model;
  o.input = f.input;
  o.output = f.output;
  o.size = f.size;
  o.flip = f.flip;
  o.norm = as_usage([&] { return augment::parse_normalization(f.norm); });
  o.format = as_usage([&] { return infer::parse_map_format(f.format); });
  o.device = as_usage([&] { return Device::parse(f.device); });
  o.precision = as_usage([&] { return parse_precision(f.precision, "--precision"); });
  o.exact_convolutions = f.exact_convolutions;
  o.cuda_graphs = f.cuda_graphs;
  o.cudnn_algorithms = as_usage([&] { return parse_conv_algorithm_choice(f.cudnn_algorithms, "--cudnn-algorithms"); });
  if (o.cuda_graphs && !o.device.is_cuda()) throw UsageError("--cuda-graphs needs --device cuda (or cuda:N)");
  o.batch = f.batch;
  o.workers = f.workers;
  o.resume = f.resume;
  as_usage([&] {
    infer::check_model_and_size(o.model, o.size);
    return 0;
  });
  const bool pipeline = app.count("--pipeline") > 0;
  if ((app.count("--weights") > 0) == pipeline) throw UsageError("give either --weights or --pipeline (exactly one)");
  if (pipeline) {
    o.pipeline = pipeline_selection(f, app);
  } else {
    o.weights = weight_files(f, app);
  }
  if (!fs::is_directory(o.input)) throw UsageError(cat("--input '", o.input, "' is not a folder"));
  return o;
}

namespace {

struct Args {
  std::string config;
  std::vector<std::string> overrides;
  InferFlags flags;
  OverlayFlags overlays;
};

void declare(CLI::App& app, Args& a) {
  app.add_option("CONFIG.ini", a.config, "inference settings instead of the flags (configs/README_infer.md)");
  app.add_option("--set", a.overrides, "with CONFIG.ini: overrides one of its settings")
      ->type_name("SECTION.KEY=VALUE");
  declare_infer_flags(app, a.flags);
  declare_overlay_flags(app, a.overlays);
}

bool is_overlay_option(const std::string& name) {
  for (const char* o : {"--overlays", "--triplet", "--labels", "--label-size", "--rle", "--overlay-size",
                        "--min-component"})
    if (name == o) return true;
  return false;
}

// CONFIG.ini mode: the file holds the settings, --set changes some; no flag goes with it but the overlay ones.
infer::InferOptions options_from_config(const Args& a, const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->get_positional() && opt->get_name() != "--set" && !is_overlay_option(opt->get_name()) &&
        opt->count() > 0) {
      throw UsageError(cat("option ", opt->get_name(), " does not go with CONFIG.ini (the file holds the settings; ",
                           "--set section.key=value changes one)"));
    }
  }
  for (const std::string& s : a.overrides)
    if (s.find('.') == std::string::npos || s.find('=') == std::string::npos || s.find('.') > s.find('='))
      throw UsageError(cat("option --set '", s, "': expected section.key=value"));
  return infer::load_infer_config(a.config, a.overrides);
}

std::string summary_line(const infer::InferOptions& options, const infer::InferSummary& s) {
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line << "infer_unet: " << s.written << " maps written to " << options.output;
  if (s.resumed) line << " (" << s.resumed << " already there)";
  line << ": " << options.model << " " << options.size << "x" << options.size << ", " << s.checkpoints
       << " checkpoint(s)" << (options.flip ? ", flip" : "") << ", " << infer::map_format_name(options.format) << ", "
       << options.device.str();
  line.precision(1);
  line << "; loading " << s.load_seconds << " s, predicting " << s.predict_seconds << " s";
  line.precision(3);
  if (s.written > 0) line << " (" << s.predict_seconds / static_cast<double>(s.written) << " s/image)";
  return line.str() + "\n";
}

// Every input image must have a truth row, checked before the maps are made.
void check_truth_covers(const eval::TruthMasks& truth, const std::string& input, const std::string& output) {
  std::vector<std::string> missing;
  for (const infer::InferInput& in : infer::find_inputs(input, output).images)
    if (!truth.contains(in.image_id)) missing.push_back(in.image_id);
  PLEURA_CHECK(missing.empty(), "--labels: ", missing.size(), " image(s) of ", input, " have no row in ",
               truth.source(), " (", eval::list_names(missing), ")");
}

// The overlays of the maps just written (eval/review.h): the mask rle_submit would submit at the overlays' size.
void write_overlays(const OverlaySettings& o, const infer::InferOptions& options, const eval::TruthMasks* truth,
                    const ToolContext& context) {
  const eval::ProbEnsemble maps({{options.output, 1.0}});
  eval::SubmitOptions submit;
  submit.triplet = o.triplet;
  submit.min_component = o.min_component;
  submit.out_height = submit.out_width = o.overlay_size;
  const eval::ReviewSummary s = eval::review_maps(
      maps, submit, {options.input, truth, o.dir, cat("infer_unet: predictions of ", options.output), options.workers});
  context.out << "infer_unet: " << eval::review_summary_text(s) << "\n";
}

void run(const Args& a, const ToolContext& context) {
  const std::optional<OverlaySettings> overlays = overlay_settings_from_flags(a.overlays, context.app);
  infer::InferOptions options;
  if (context.given("CONFIG.ini")) {
    options = options_from_config(a, context.app);
  } else {
    if (context.given("--set")) throw UsageError("option --set goes with CONFIG.ini");
    options = infer_options_from_flags(a.flags, context.app);
  }
  if (overlays && same_path(overlays->dir, options.output))
    throw UsageError(cat("--overlays '", overlays->dir, "' is the maps' folder (its PNGs would read as maps)"));
  // The labels are read before the maps are made, so that a bad file fails at once.
  std::optional<eval::TruthMasks> truth;
  if (overlays && !overlays->labels.empty()) {
    truth = eval::TruthMasks::from_labels(overlays->labels, overlays->rle, overlays->label_size, overlays->label_size);
    check_truth_covers(*truth, options.input, options.output);
  }
  const infer::InferSummary s = infer::run_inference(options, context.err, context.terminal);
  context.out << summary_line(options, s);
  if (overlays) write_overlays(*overlays, options, truth ? &*truth : nullptr, context);
}

}  // namespace

Tool infer_unet_tool() { return make_tool("infer_unet", kSummary, OnStop::kPolled, declare, run); }

}  // namespace pleura::tools
