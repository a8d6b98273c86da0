// Every command-line tool of Pleura, one tools/X.cpp each; the program X is a generated main running
// X_tool() through tools/runner.h (CMakeLists.txt, tools/main.cpp.in). bench_unet's tool is in
// bench/unet_bench.h. Tests: tests/tools/test_X.cpp.
#pragma once

#include "tools/runner.h"
#include "train/trainer.h"

namespace pleura::tools {

// A deterministic synthetic SIIM-like data set (DICOM tree, RLE labels, folds, sample submission).
Tool make_demo_data_tool();
// SIIM-style DICOM/PNG tree -> PNGs, masks and a manifest (resumable).
Tool prepare_data_tool();
// Trains the UNet of an INI configuration fold by fold. `hooks` (tests): its after_batch is called after
// every training batch; resume and terminal come from the command line and the runner.
Tool train_unet_tool(const TrainOptions& hooks = {});
// Images -> probability maps with one UNet and a list of checkpoints (flip TTA, running mean).
Tool infer_unet_tool();
// Scores (top, area, bottom) triplets on validation probability maps.
Tool search_triplets_tool();
// Probability maps (one folder or a weighted ensemble) -> submission CSV.
Tool rle_submit_tool();
// The Kaggle metric of a submission CSV against a truth CSV, with extra scores.
Tool score_submission_tool();

}  // namespace pleura::tools
