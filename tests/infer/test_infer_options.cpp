// Tests of infer/infer_options.h: INI files to InferOptions, the list syntaxes, and every configuration
// mistake (named by file:line, or --set), and run_inference's refusal of CUDA graphs on the CPU. The flags
// are tested in tests/tools/test_infer_unet_flags.cpp.
#include "infer/infer_options.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "infer/infer_run.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

TEST_CASE("infer options: the list syntaxes") {
  CHECK(parse_index_list("x", "0, 1,2") == std::vector<int64_t>{0, 1, 2});
  CHECK(parse_fold_epochs("x", "4:16,24, 25") == std::pair<int64_t, std::vector<int64_t>>{4, {16, 24, 25}});
  expect_error([] { parse_index_list("opt", "1,-2"); }, {"opt", "'-2'"});
  expect_error([] { parse_index_list("opt", ""); }, {"opt"});
  expect_error([] { parse_fold_epochs("opt", "3:"); }, {"opt (fold 3)"});
}

TEST_CASE("infer options: an INI file, with --set overrides") {
  TempDir dir;
  const std::string path = dir.file("i.ini");
  std::ofstream(path) << "; comment\n[run]\ndevice = cuda\nbatch_size = 1\nworkers = 3\n"
                         "[data]\ninput = ../input/test\nsize = 128\nnormalization = imagenet\n"
                         "[model]\nname = albunet\n"
                         "[checkpoints]\npipeline_path = exp/a\npipeline_name = albunet_1024\nselect = epochs\n"
                         "folds = 2, 0\nepochs.fold0 = 7, 13\nepochs.fold2 = 1\n"
                         "[tta]\nflip = true\n[output]\ndir = exp/a/result\nformat = png\n";
  InferOptions o = load_infer_config(path, {});
  CHECK(o.device == Device::cuda(0));
  CHECK(o.batch == 1);
  CHECK(o.workers == 3);
  CHECK(o.input == "../input/test");
  CHECK(o.size == 128);
  CHECK(o.norm == augment::Normalization::kImagenet);
  CHECK(o.model == "albunet");
  REQUIRE(o.pipeline);
  CHECK(o.pipeline->path == "exp/a");
  CHECK(o.pipeline->name == "albunet_1024");
  CHECK(o.pipeline->full_folder == "checkpoints");
  CHECK(o.pipeline->selection == Selection::kEpochs);
  REQUIRE(o.pipeline->epochs.size() == 2);
  CHECK(o.pipeline->epochs[0] == std::pair<int64_t, std::vector<int64_t>>{2, {1}});
  CHECK(o.pipeline->epochs[1] == std::pair<int64_t, std::vector<int64_t>>{0, {7, 13}});
  CHECK(o.flip);
  CHECK(o.output == "exp/a/result");
  CHECK(o.format == MapFormat::kPng);
  CHECK(!o.resume);
  CHECK(!o.cuda_graphs);
  o = load_infer_config(path, {"output.resume=true", "run.device=cpu", "tta.flip=false"});
  CHECK(o.resume);
  CHECK(load_infer_config(path, {"run.cuda_graphs=true"}).cuda_graphs);
  CHECK(o.cudnn_algorithms == ConvAlgorithmChoice::kMeasured);
  CHECK(load_infer_config(path, {"run.cudnn_algorithms=reproducible"}).cudnn_algorithms ==
        ConvAlgorithmChoice::kReproducible);
  expect_error([&] { load_infer_config(path, {"run.cudnn_algorithms=fast"}); },
               {"cudnn_algorithms", "'fast'", "measured or reproducible"});
  CHECK(o.device == Device::cpu());
  CHECK(!o.flip);

  std::ofstream(path) << "[data]\ninput = in\nsize = 64\n[model]\nname = albunet\n"
                         "[checkpoints]\nweights = a.safetensors, b.safetensors\n[output]\ndir = out\n";
  o = load_infer_config(path, {});
  CHECK(o.weights == std::vector<std::string>{"a.safetensors", "b.safetensors"});
  CHECK(o.batch == 2);
  CHECK(o.format == MapFormat::kNpy);
  CHECK(o.norm == augment::Normalization::kUnit);
  CHECK(!o.flip);
  o = load_infer_config(path, {"checkpoints.weights=c.safetensors"});
  CHECK(o.weights == std::vector<std::string>{"c.safetensors"});
  expect_error([&] { load_infer_config(path, {"checkpoints.pipeline_path=p"}); },
               {"i.ini", "[checkpoints] needs either 'weights' or 'pipeline_path'"});

  std::ofstream(path) << "[data]\ninput = in\nsize = 64\n[model]\nname = albunet\n"
                         "[checkpoints]\npipeline_path = p\npipeline_name = n\nselect = top_k\ntop_k = 3\nfolds = 1,3\n"
                         "best_folder = b\nfull_folder = f\n[output]\ndir = out\n";
  o = load_infer_config(path, {});
  REQUIRE(o.pipeline);
  CHECK(o.pipeline->selection == Selection::kTopK);
  CHECK(o.pipeline->top_k == 3);
  CHECK(o.pipeline->folds == std::vector<int64_t>{1, 3});
  CHECK(o.pipeline->best_folder == "b");
  CHECK(o.pipeline->full_folder == "f");
  // top_k means nothing to select = best: an unknown key then, as every unused key.
  expect_error([&] { load_infer_config(path, {"checkpoints.select=best"}); }, {"i.ini:10: unknown key [checkpoints] top_k"});
}

TEST_CASE("infer options: INI mistakes name file:line (or --set)") {
  TempDir dir;
  const std::string path = dir.file("bad.ini");
  const std::string good = "[data]\ninput = in\nsize = 64\n[model]\nname = albunet\n"
                           "[checkpoints]\nweights = a.safetensors\n[output]\ndir = out\n";
  std::ofstream(path) << good;
  CHECK(load_infer_config(path, {}).size == 64);
  expect_error([&] { load_infer_config(dir.file("absent.ini"), {}); }, {"absent.ini", "does not exist"});
  expect_error([&] { load_infer_config(path, {"data.sise=64"}); }, {"unknown key [data] sise"});
  expect_error([&] { load_infer_config(path, {"data.size=96"}); }, {"--set data.size", "size 96", "multiple of 64"});
  expect_error([&] { load_infer_config(path, {"data.size=big"}); }, {"--set data.size", "'big' is not an integer"});
  expect_error([&] { load_infer_config(path, {"data.normalization=zscore"}); }, {"--set data.normalization", "zscore"});
  expect_error([&] { load_infer_config(path, {"output.format=tiff"}); }, {"--set output.format", "tiff"});
  expect_error([&] { load_infer_config(path, {"run.device=tpu"}); }, {"--set run.device", "tpu"});
  expect_error([&] { load_infer_config(path, {"run.batch_size=0"}); }, {"--set run.batch_size", "outside 1..4096"});
  expect_error([&] { load_infer_config(path, {"tta.flip=maybe"}); }, {"--set tta.flip", "not a boolean"});
  expect_error([&] { load_infer_config(path, {"model.name=unet9"}); }, {"unet9"});
  expect_error([&] { load_infer_config(path, {"extra.key=1"}); }, {"unknown key [extra] key"});
  std::ofstream(path) << good << "[tta]\nflip = yes\nflip_vertical = yes\n";
  expect_error([&] { load_infer_config(path, {}); }, {"bad.ini:12: unknown key [tta] flip_vertical"});
  std::ofstream(path) << "[data]\ninput = in\nsize = 64\n[model]\nname = albunet\n[output]\ndir = out\n"
                         "[checkpoints]\npipeline_path = p\npipeline_name = n\nselect = epochs\nfolds = 0, 1\n"
                         "epochs.fold0 = 3\n";
  expect_error([&] { load_infer_config(path, {}); }, {"bad.ini", "[checkpoints] lacks the required key 'epochs.fold1'"});
  expect_error([&] { load_infer_config(path, {"checkpoints.epochs.fold1=4,4"}); }, {"--set checkpoints.epochs.fold1",
                                                                                    "4 is listed twice"});
  expect_error([&] { load_infer_config(path, {"checkpoints.epochs.fold1=4", "checkpoints.epochs.fold2=5"}); },
               {"unknown key [checkpoints] epochs.fold2"});
  expect_error([&] { load_infer_config(path, {"checkpoints.epochs.fold1=4", "checkpoints.select=all"}); },
               {"--set checkpoints.select: [checkpoints] select", "'all' is not best, top_k or epochs"});
  expect_error([&] { load_infer_config(path, {"checkpoints.epochs.fold1=4", "checkpoints.folds=0,x"}); },
               {"--set checkpoints.folds", "'x'"});
  expect_error([&] { load_infer_config(path, {"checkpoints.select=top_k", "checkpoints.top_k=0"}); },
               {"--set checkpoints.top_k", "outside 1..1000"});
}

TEST_CASE("infer options: cuda_graphs on a CPU device is refused before any work") {
  TempDir dir;
  InferOptions o;
  o.model = "albunet";
  o.size = 64;
  o.input = dir.file("in");
  o.output = dir.file("out");
  o.weights = {dir.file("w.safetensors")};
  o.cuda_graphs = true;
  std::ostringstream log;
  expect_error([&] { run_inference(o, log, false); }, {"cuda_graphs (--cuda-graphs) needs a CUDA device", "cpu"});
  CHECK_FALSE(fs::exists(o.output));
}
