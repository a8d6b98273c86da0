// The command line of tools/infer_unet (see infer_run.h): flag mode or INI mode, then run_inference.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "engine/error.h"
#include "data/cli_args.h"
#include "data/progress.h"
#include "infer/infer_run.h"

namespace pleura::infer {
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
    "RESULT_WEIGHTS). Exit status: 0 done, 1 failure, 2 usage error.";

int usage_error(std::ostream& err, const std::string& what) {
  err << "infer_unet: " << what << "\n(run infer_unet --help for usage)\n";
  return 2;
}

}  // namespace

int infer_unet_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using data::UsageError;
  const bool ini_mode = !args.empty() && args[0].rfind("-", 0) != 0;
  data::ArgParser flags("infer_unet", kSummary);
  add_infer_flags(flags);
  InferOptions options;
  try {
    if (ini_mode) {
      data::ArgParser ini("infer_unet", kSummary);
      ini.add_positional("CONFIG.ini", "inference settings (sections and keys: configs/README_infer.md)");
      ini.add_repeated("set", "SECTION.KEY=VALUE", "overrides one setting of CONFIG.ini");
      ini.parse(args);
      if (ini.help_requested()) {
        out << flags.usage();
        return 0;
      }
      for (const std::string& s : ini.values("set"))
        if (s.find('.') == std::string::npos || s.find('=') == std::string::npos || s.find('.') > s.find('='))
          throw UsageError(cat("option --set '", s, "': expected section.key=value"));
      try {
        options = load_infer_config(ini.positional(0), ini.values("set"));
      } catch (const UsageError&) {
        throw;
      } catch (const std::exception& e) {
        err << "infer_unet: error: " << e.what() << "\n";
        return 1;
      }
    } else {
      flags.parse(args);
      if (flags.help_requested()) {
        out << flags.usage();
        return 0;
      }
      options = infer_options_from_flags(flags);
    }
  } catch (const UsageError& e) {
    return usage_error(err, e.what());
  }
  try {
    const bool terminal = &err == &std::cerr && data::stderr_is_terminal();
    const InferSummary s = run_inference(options, err, terminal);
    std::ostringstream line;
    line.setf(std::ios::fixed);
    line << "infer_unet: " << s.written << " maps written to " << options.output;
    if (s.resumed) line << " (" << s.resumed << " already there)";
    line << ": " << options.model << " " << options.size << "x" << options.size << ", " << s.checkpoints
         << " checkpoint(s)" << (options.flip ? ", flip" : "") << ", " << map_format_name(options.format) << ", "
         << options.device.str();
    line.precision(1);
    line << "; loading " << s.load_seconds << " s, predicting " << s.predict_seconds << " s";
    line.precision(3);
    if (s.written > 0) line << " (" << s.predict_seconds / static_cast<double>(s.written) << " s/image)";
    out << line.str() << "\n";
    return 0;
  } catch (const std::exception& e) {
    err << "infer_unet: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura::infer
