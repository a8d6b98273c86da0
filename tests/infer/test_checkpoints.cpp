// Tests of infer/checkpoints.h on a train_unet-style output folder made here (empty files stand for
// the weights: only their presence matters when the list is built): summary.csv reading, top-k choice,
// best and listed epochs, and the error for every missing piece.
#include "infer/checkpoints.h"

#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "tests/data/data_testing.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

namespace {

const char* kHeader = "epoch,best_metric,\"(0.75, 1000, 0.3)\",\"(0.75, 1000, 0.4)\"\n";

void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "weights";
}

// <dir>/run: fold 0 has seven validated epochs of which the trainer kept 3, 5 and 6 (and an older stage's
// epoch 1, repeated by a later stage); fold 2 has epochs 0..2, all kept.
struct PipelineDir {
  TempDir dir;
  PipelineSelection sel;
  PipelineDir() {
    sel.path = dir.file("run");
    sel.name = "albunet_1024";
    const std::string f0 = sel.path + "/checkpoints/fold0", f2 = sel.path + "/checkpoints/fold2";
    fs::create_directories(f0);
    fs::create_directories(f2);
    // Scores: epoch 1 is listed twice; its last row (0.86) counts. Epochs 3 and 6 tie at 0.85.
    std::ofstream(f0 + "/summary.csv") << kHeader
                                       << "0,0.80,0.80,0.79\n1,0.90,0.90,0.88\n2,0.81,0.8,0.81\n3,0.85,0.85,0.84\n"
                                          "4,0.70,0.7,0.6\n5,0.88,0.88,0.87\n6,0.85,0.85,0.85\n1,0.86,0.86,0.85\n";
    for (int e : {1, 3, 5, 6}) touch(cat(f0, "/albunet_1024_fold0_epoch", e, ".safetensors"));
    std::ofstream(f2 + "/summary.csv") << "\xEF\xBB\xBF" << kHeader << "0,0.5,0.5,0.4\r\n1,0.7,0.7,0.6\r\n2,0.6,0.6,0.5\r\n";
    for (int e : {0, 1, 2}) touch(cat(f2, "/albunet_1024_fold2_epoch", e, ".safetensors"));
    touch(sel.path + "/checkpoints/albunet_1024_fold0.safetensors");
    touch(sel.path + "/checkpoints/albunet_1024_fold2.safetensors");
  }
  std::string epoch(int fold, int e) const {
    return (fs::path(sel.path) / "checkpoints" / cat("fold", fold) / cat("albunet_1024_fold", fold, "_epoch", e, ".safetensors"))
        .string();
  }
};

}  // namespace

TEST_CASE("infer: checkpoint paths follow train_unet's layout") {
  PipelineSelection s;
  s.path = "exp";
  s.name = "seunet";
  s.best_folder = "best";
  s.full_folder = "full";
  CHECK(best_checkpoint_path(s, 3) == "exp/best/seunet_fold3.safetensors");
  CHECK(epoch_checkpoint_path(s, 3, 12) == "exp/full/fold3/seunet_fold3_epoch12.safetensors");
  CHECK(summary_path(s, 0) == "exp/full/fold0/summary.csv");
}

TEST_CASE("infer: summary.csv: the last row of a repeated epoch counts; BOM and CRLF accepted") {
  PipelineDir p;
  const std::vector<SummaryRow> rows = read_summary(summary_path(p.sel, 0));
  REQUIRE(rows.size() == 7);
  CHECK(rows[0].epoch == 0);
  CHECK(rows.back().epoch == 1);  // moved to the place of its last row
  CHECK(rows.back().best_metric == 0.86);
  CHECK(rows.back().line == 9);
  const std::vector<SummaryRow> f2 = read_summary(summary_path(p.sel, 2));
  REQUIRE(f2.size() == 3);
  CHECK(f2[1].best_metric == 0.7);
}

TEST_CASE("infer: top-k takes the best scores whose files exist; ties keep the file name that sorts last") {
  PipelineDir p;
  // Fold 0 on disk: 1 (0.86), 3 (0.85), 5 (0.88), 6 (0.85). Epochs 0, 2, 4 were removed by the trainer and
  // epoch 1's first row (0.90) was replaced. 3 and 6 tie: "..._epoch6" sorts after "..._epoch3".
  CHECK(top_k_epochs(p.sel, 0, 2) == std::vector<int64_t>{5, 1});
  CHECK(top_k_epochs(p.sel, 0, 3) == std::vector<int64_t>{5, 1, 6});
  CHECK(top_k_epochs(p.sel, 0, 4) == std::vector<int64_t>{5, 1, 6, 3});
  CHECK(top_k_epochs(p.sel, 2, 3) == std::vector<int64_t>{1, 2, 0});
  expect_error([&] { top_k_epochs(p.sel, 0, 5); },
               {"fold 0", "--top-k 5", "summary.csv", "(0, 2, 3, 4, 5, 6, 1)", "only 4", "(5, 1, 6, 3)"});
  expect_error([&] { top_k_epochs(p.sel, 1, 1); }, {"fold1", "summary.csv", "does not exist"});

  p.sel.selection = Selection::kTopK;
  p.sel.top_k = 2;
  p.sel.folds = {2, 0};
  CHECK(pipeline_checkpoints(p.sel) == std::vector<std::string>{p.epoch(2, 1), p.epoch(2, 2), p.epoch(0, 5), p.epoch(0, 1)});
}

TEST_CASE("infer: best checkpoints and listed epochs, in the order given") {
  PipelineDir p;
  p.sel.selection = Selection::kBest;
  p.sel.folds = {2, 0};
  CHECK(pipeline_checkpoints(p.sel) ==
        std::vector<std::string>{(fs::path(p.sel.path) / "checkpoints" / "albunet_1024_fold2.safetensors").string(),
                                 (fs::path(p.sel.path) / "checkpoints" / "albunet_1024_fold0.safetensors").string()});
  p.sel.folds = {0, 1};
  expect_error([&] { pipeline_checkpoints(p.sel); }, {"fold 1", "best checkpoint", "albunet_1024_fold1.safetensors",
                                                      "does not exist"});
  p.sel.selection = Selection::kEpochs;
  p.sel.epochs = {{0, {6, 1, 3}}, {2, {0}}};
  CHECK(pipeline_checkpoints(p.sel) == std::vector<std::string>{p.epoch(0, 6), p.epoch(0, 1), p.epoch(0, 3), p.epoch(2, 0)});
  p.sel.epochs = {{0, {5, 4}}};
  expect_error([&] { pipeline_checkpoints(p.sel); }, {"fold 0, epoch 4", "albunet_1024_fold0_epoch4.safetensors",
                                                      "does not exist"});
  p.sel.path = p.dir.file("nowhere");
  expect_error([&] { pipeline_checkpoints(p.sel); }, {"pipeline folder", "nowhere", "does not exist"});
}

TEST_CASE("infer: malformed summary files are errors naming file:line") {
  TempDir dir;
  PipelineSelection s;
  s.path = dir.path();
  s.name = "x";
  const std::string path = summary_path(s, 0);
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "fold,score\n0,1\n";
  expect_error([&] { read_summary(path); }, {"summary.csv:1", "epoch,best_metric"});
  std::ofstream(path) << kHeader << "0,0.5,1,1\nlast,0.4,1,1\n";
  expect_error([&] { read_summary(path); }, {"summary.csv:3", "epoch 'last'"});
  std::ofstream(path) << kHeader << "0,high,1,1\n";
  expect_error([&] { read_summary(path); }, {"summary.csv:2", "best_metric 'high'"});
  std::ofstream(path) << kHeader << "0,nan,1,1\n";
  expect_error([&] { read_summary(path); }, {"summary.csv:2", "finite"});
  std::ofstream(path) << kHeader << "7\n";
  expect_error([&] { read_summary(path); }, {"summary.csv:2", "expected epoch,best_metric"});
  std::ofstream(path) << kHeader;
  CHECK(read_summary(path).empty());
  expect_error([&] { check_checkpoint_files({}); }, {"no checkpoint"});
  expect_error([&] { check_checkpoint_files({path, dir.file("w.safetensors")}); }, {"w.safetensors", "does not exist"});
}
