// make_demo_data: a deterministic synthetic SIIM-like data set (data/synthetic_dataset.h: DICOM tree, RLE
// labels, folds, sample submission). Tests: tests/tools/test_make_demo_data.cpp.
#include <sstream>

#include "data/jobs.h"
#include "data/synthetic_dataset.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Writes a deterministic synthetic data set shaped like SIIM-ACR: procedural chest radiographs as\n"
    "JPEG DICOM files in nested study/series folders, about 22% with a pneumothorax-like lesion,\n"
    "training labels in SIIM's relative RLE, the test truth, 5 folds and a sample submission.";

struct Args {
  data::DemoDataOptions options;
  std::string difficulty = "realistic";
};

void declare(CLI::App& app, Args& a) {
  a.options.threads = data::default_job_threads();
  app.add_option("--out", a.options.out_dir, "output folder (new or empty, unless --overwrite)")
      ->type_name("DIR")
      ->required();
  app.add_option("--train", a.options.train, "training images, 5..100000 (default 600)")
      ->type_name("N")
      ->check(int_in(5, 100000));
  app.add_option("--test", a.options.test, "test images, 0..100000 (default 100)")
      ->type_name("M")
      ->check(int_in(0, 100000));
  app.add_option("--size", a.options.size, "image side in pixels, 32..4096 (default 256)")
      ->type_name("S")
      ->check(int_in(32, 4096));
  app.add_option("--seed", a.options.seed, "seed (default 0); the same options give the same files")
      ->type_name("K")
      ->check(int_in(0, INT64_MAX));
  app.add_option("--difficulty", a.difficulty, "realistic (subtle lesions, default) or demo (large, easy lesions)")
      ->type_name("D")
      ->check(one_of({"realistic", "demo"}));
  app.add_option("--threads", a.options.threads,
                 "worker threads (default: all hardware threads; no effect on the output)")
      ->type_name("T")
      ->check(int_in(1, 1024));
  app.add_flag("--overwrite", a.options.overwrite, "replace a data set already in --out");
}

void run(const Args& a, const ToolContext& context) {
  data::DemoDataOptions options = a.options;
  options.difficulty = data::parse_difficulty(a.difficulty);
  options.terminal = context.terminal;
  const data::DemoDataSummary s = data::make_demo_dataset(options, context.err);
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line.precision(1);
  line << "make_demo_data: " << options.train << " training images (" << s.train_positive << " positive) and "
       << options.test << " test images (" << s.test_positive << " positive), " << options.size << "x" << options.size
       << ", " << data::difficulty_name(options.difficulty) << ", seed " << options.seed << ", in " << options.out_dir
       << " (" << s.seconds << " s)\n";
  context.out << line.str();
}

}  // namespace

Tool make_demo_data_tool() { return make_tool("make_demo_data", kSummary, OnStop::kExitAtOnce, declare, run); }

}  // namespace pleura::tools
