// Tests of infer/infer_options.h: flags and INI files to InferOptions, the list syntaxes, and every
// usage or configuration mistake (named by option, or by file:line).
#include "infer/infer_options.h"

#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "tests/data/data_testing.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

namespace {

InferOptions from_flags(const std::vector<std::string>& args) {
  data::ArgParser parser("infer_unet", "test");
  add_infer_flags(parser);
  parser.parse(args);
  return infer_options_from_flags(parser);
}

// Expects a data::UsageError whose message holds every part.
void expect_usage(const std::vector<std::string>& args, const std::vector<std::string>& parts) {
  CAPTURE(args.size());
  bool usage = false;
  try {
    from_flags(args);
  } catch (const data::UsageError& e) {
    usage = true;
    const std::string what = e.what();
    for (const std::string& p : parts) CHECK_MESSAGE(what.find(p) != std::string::npos, "'", p, "' not in: ", what);
  } catch (const std::exception& e) {
    FAIL("not a usage error: ", e.what());
  }
  CHECK_MESSAGE(usage, "no usage error for a command line expected to fail with ", parts.front());
}

struct Files {
  TempDir dir;
  std::string in = dir.file("in"), w1 = dir.file("w1.safetensors"), w2 = dir.file("w2.safetensors"),
              run = dir.file("run");
  Files() {
    fs::create_directories(in);
    fs::create_directories(run);
    std::ofstream(w1) << "x";
    std::ofstream(w2) << "x";
  }
  std::vector<std::string> base() const { return {"--model", "albunet", "--input", in, "--output", dir.file("out"), "--size", "64"}; }
  std::vector<std::string> with(std::vector<std::string> extra) const {
    std::vector<std::string> a = base();
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

}  // namespace

TEST_CASE("infer options: flags, with defaults") {
  Files f;
  const InferOptions o = from_flags(f.with({"--weights", f.w1 + "," + f.w2, "--weights", f.w1}));
  CHECK(o.model == "albunet");
  CHECK(o.weights == std::vector<std::string>{f.w1, f.w2, f.w1});
  CHECK(!o.pipeline);
  CHECK(o.size == 64);
  CHECK(!o.flip);
  CHECK(o.norm == augment::Normalization::kUnit);
  CHECK(o.format == MapFormat::kNpy);
  CHECK(o.device == Device::cpu());
  CHECK(o.batch == 2);
  CHECK(o.workers >= 1);
  CHECK(!o.resume);
  const InferOptions p = from_flags(f.with({"--pipeline", f.run, "--pipeline-name", "albunet_1024", "--top-k", "3",
                                            "--folds", "4,0", "--full-folder", "hist", "--flip", "--norm", "imagenet",
                                            "--format", "png", "--batch", "5", "--workers", "3", "--resume",
                                            "--device", "cuda:1"}));
  REQUIRE(p.pipeline);
  CHECK(p.pipeline->selection == Selection::kTopK);
  CHECK(p.pipeline->top_k == 3);
  CHECK(p.pipeline->folds == std::vector<int64_t>{4, 0});
  CHECK(p.pipeline->full_folder == "hist");
  CHECK(p.pipeline->best_folder == "checkpoints");
  CHECK(p.flip);
  CHECK(p.norm == augment::Normalization::kImagenet);
  CHECK(p.format == MapFormat::kPng);
  CHECK(p.batch == 5);
  CHECK(p.workers == 3);
  CHECK(p.resume);
  CHECK(p.device == Device::cuda(1));
  const InferOptions b = from_flags(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--best", "--folds", "0",
                                            "--best-folder", "best"}));
  CHECK(b.pipeline->selection == Selection::kBest);
  CHECK(b.pipeline->best_folder == "best");
  const InferOptions e = from_flags(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--epochs", "3:7,13,17",
                                            "--epochs", "1: 5"}));
  CHECK(e.pipeline->selection == Selection::kEpochs);
  REQUIRE(e.pipeline->epochs.size() == 2);
  CHECK(e.pipeline->epochs[0] == std::pair<int64_t, std::vector<int64_t>>{3, {7, 13, 17}});
  CHECK(e.pipeline->epochs[1] == std::pair<int64_t, std::vector<int64_t>>{1, {5}});
  const InferOptions r = from_flags({"--model", "resnet50_unet", "--input", f.in, "--output", "o", "--size", "96",
                                     "--weights", f.w1});
  CHECK(r.size == 96);  // a multiple of 32 suits resnet50_unet, not albunet
}

TEST_CASE("infer options: every flag mistake is a usage error naming the option") {
  Files f;
  const std::string w = f.w1;
  expect_usage(f.base(), {"--weights or --pipeline"});
  expect_usage(f.with({"--weights", w, "--pipeline", f.run}), {"--weights or --pipeline"});
  expect_usage(f.with({"--weights", f.dir.file("nope.safetensors")}), {"--weights", "nope.safetensors", "does not exist"});
  expect_usage(f.with({"--weights", w + ",,"}), {"--weights", "empty file name"});
  expect_usage(f.with({"--weights", w, "--top-k", "3"}), {"--top-k needs --pipeline"});
  expect_usage(f.with({"--weights", w, "--folds", "0"}), {"--folds needs --pipeline"});
  expect_usage(f.with({"--pipeline", f.run, "--best", "--folds", "0"}), {"--pipeline needs --pipeline-name"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--folds", "0"}), {"exactly one of --best"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--best", "--top-k", "2", "--folds", "0"}),
               {"exactly one of --best"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--best"}), {"--best needs --folds"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--top-k", "2"}), {"--top-k needs --folds"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--top-k", "0", "--folds", "0"}), {"--top-k is 0"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--best", "--folds", "0,x"}), {"--folds", "'x'"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--best", "--folds", "1,1"}), {"--folds", "1 is listed twice"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--best", "--folds", "0", "--full-folder", "h"}),
               {"--full-folder goes with"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--top-k", "1", "--folds", "0", "--best-folder", "b"}),
               {"--best-folder goes with --best"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--epochs", "0:1", "--folds", "0"}),
               {"--folds goes with --best or --top-k"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--epochs", "7,13"}), {"--epochs", "FOLD:EPOCH"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--epochs", "a:7"}), {"--epochs", "fold 'a'"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--epochs", "0:7", "--epochs", "0:8"}),
               {"--epochs", "fold 0 given twice"});
  expect_usage(f.with({"--pipeline", f.run, "--pipeline-name", "n", "--epochs", "0:7,7"}), {"fold 0", "7 is listed twice"});
  expect_usage(f.with({"--pipeline", f.dir.file("norun"), "--pipeline-name", "n", "--best", "--folds", "0"}),
               {"--pipeline", "norun", "not a folder"});
  expect_usage({"--model", "albunet", "--input", f.dir.file("noin"), "--output", "o", "--size", "64", "--weights", w},
               {"--input", "noin", "not a folder"});
  expect_usage({"--model", "unet9", "--input", f.in, "--output", "o", "--size", "64", "--weights", w},
               {"unet9", "albunet"});
  expect_usage({"--model", "albunet", "--input", f.in, "--output", "o", "--size", "96", "--weights", w},
               {"size 96", "multiple of 64"});
  expect_usage({"--model", "albunet", "--input", f.in, "--output", "o", "--size", "0", "--weights", w}, {"--size is 0"});
  expect_usage(f.with({"--weights", w, "--format", "tiff"}), {"'tiff'", "npy or png"});
  expect_usage(f.with({"--weights", w, "--norm", "zscore"}), {"'zscore'", "imagenet"});
  expect_usage(f.with({"--weights", w, "--device", "tpu"}), {"tpu"});
  expect_usage(f.with({"--weights", w, "--batch", "0"}), {"--batch is 0"});
  expect_usage(f.with({"--weights", w, "--workers", "x"}), {"--workers", "'x'"});
  expect_usage({"--input", f.in, "--output", "o", "--size", "64", "--weights", w}, {"--model"});
}

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
  o = load_infer_config(path, {"output.resume=true", "run.device=cpu", "tta.flip=false"});
  CHECK(o.resume);
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
