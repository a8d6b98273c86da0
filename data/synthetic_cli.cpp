// The command line of tools/make_demo_data (see synthetic_dataset.h): argument checks, then
// make_demo_dataset.
#include <iostream>
#include <sstream>

#include "data/cli_args.h"
#include "data/jobs.h"
#include "data/progress.h"
#include "data/synthetic_dataset.h"

namespace pleura::data {

int make_demo_data_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ArgParser parser("make_demo_data",
                   "Writes a deterministic synthetic data set shaped like SIIM-ACR: procedural chest radiographs as\n"
                   "JPEG DICOM files in nested study/series folders, about 22% with a pneumothorax-like lesion,\n"
                   "training labels in SIIM's relative RLE, the test truth, 5 folds and a sample submission.");
  parser.add_value("out", "DIR", "output folder (new or empty, unless --overwrite)", true);
  parser.add_value("train", "N", "training images, 5..100000 (default 600)");
  parser.add_value("test", "M", "test images, 0..100000 (default 100)");
  parser.add_value("size", "S", "image side in pixels, 32..4096 (default 256)");
  parser.add_value("seed", "K", "seed (default 0); the same options give the same files");
  parser.add_value("difficulty", "D", "realistic (subtle lesions, default) or demo (large, easy lesions)");
  parser.add_value("threads", "T", "worker threads (default: all hardware threads; no effect on the output)");
  parser.add_flag("overwrite", "replace a data set already in --out");
  DemoDataOptions options;
  try {
    parser.parse(args);
    if (parser.help_requested()) {
      out << parser.usage();
      return 0;
    }
    options.out_dir = parser.value("out");
    options.train = parser.int_value("train", 5, 100000, 600);
    options.test = parser.int_value("test", 0, 100000, 100);
    options.size = parser.int_value("size", 32, 4096, 256);
    options.seed = static_cast<uint64_t>(parser.int_value("seed", 0, INT64_MAX, 0));
    options.threads = static_cast<int>(parser.int_value("threads", 1, 1024, default_job_threads()));
    options.overwrite = parser.has("overwrite");
    const std::string difficulty = parser.value("difficulty", "realistic");
    if (difficulty != "realistic" && difficulty != "demo") {
      throw UsageError("option --difficulty is '" + difficulty + "', expected realistic or demo");
    }
    options.difficulty = parse_difficulty(difficulty);
  } catch (const UsageError& e) {
    err << "make_demo_data: " << e.what() << "\n(run make_demo_data --help for usage)\n";
    return 2;
  }
  try {
    options.terminal = &err == &std::cerr && stderr_is_terminal();
    const DemoDataSummary s = make_demo_dataset(options, err);
    std::ostringstream line;
    line.setf(std::ios::fixed);
    line.precision(1);
    line << "make_demo_data: " << options.train << " training images (" << s.train_positive << " positive) and "
         << options.test << " test images (" << s.test_positive << " positive), " << options.size << "x" << options.size
         << ", " << difficulty_name(options.difficulty) << ", seed " << options.seed << ", in " << options.out_dir
         << " (" << s.seconds << " s)\n";
    out << line.str();
    return 0;
  } catch (const std::exception& e) {
    err << "make_demo_data: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura::data
