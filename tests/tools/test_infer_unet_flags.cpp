// Tests of infer_unet's flags (tools/infer_unet.h): parsed flags to InferOptions, with defaults, and every
// flag mistake as a usage error naming the option. The INI spelling is tested in
// tests/infer/test_infer_options.cpp, whole runs in tests/tools/test_infer_unet.cpp.
#include "tools/infer_unet.h"

#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "tests/data/data_testing.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;
using namespace pleura::tools;

namespace {

InferOptions from_flags(const std::vector<std::string>& args) {
  CLI::App app;
  InferFlags flags;
  declare_infer_flags(app, flags);
  const Parsed parsed = parse_command_line(app, args);  // a UsageError goes to the caller
  REQUIRE(parsed == Parsed::kRun);
  return infer_options_from_flags(flags, app);
}

// Expects a UsageError whose message holds every part.
void expect_usage(const std::vector<std::string>& args, const std::vector<std::string>& parts) {
  CAPTURE(args.size());
  bool usage = false;
  try {
    from_flags(args);
  } catch (const UsageError& e) {
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
  CHECK(!o.cuda_graphs);
  CHECK(from_flags(f.with({"--weights", f.w1, "--device", "cuda", "--cuda-graphs"})).cuda_graphs);
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
  expect_usage(f.with({"--weights", w, "--cuda-graphs"}), {"--cuda-graphs needs --device cuda"});
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
