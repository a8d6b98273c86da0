// Tests of tools/train_unet through the runner (tools/train_unet.cpp, tools/runner.h), at a tiny size
// (AlbuNet at 64x64 on the CPU, 8 training and 4 validation images, 2 epochs): the files a run leaves
// (checkpoints, summary.csv, metrics CSV, learning-curve PNG, logs), a run stopped inside an epoch and
// before a validation (by the test hook and by a real SIGINT) and resumed, which must end bit-identical to
// an uninterrupted run, non-finite steps (a NaN put into a gradient: the step is skipped, and too many in a
// row end the run), and the command-line and configuration errors.
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "engine/counters.h"
#include "engine/file_io.h"
#include "engine/folder_lock.h"
#include "engine/host_allocator.h"
#include "engine/precision.h"
#include "engine/safetensors.h"
#include "layers/state_dict.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/train/train_testing.h"
#include "tests/tools/tools_testing.h"
#include "train/checkpoint.h"
#include "data/image_io.h"
#include "train/train_log.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::testing;

namespace {

using Run = ToolRun;

Run run(const std::vector<std::string>& args, const TrainOptions& hooks = {}) {
  return run_tool(tools::train_unet_tool(hooks), args);
}

std::string write_ini(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  write_file_atomic(path, text);
  return path;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(slurp(path));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

int count_epoch_checkpoints(const std::string& folder) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().filename().string().find("_epoch") != std::string::npos) ++n;
  return n;
}

}  // namespace

TEST_CASE("train_unet: two epochs at 64x64 leave checkpoints, summary.csv, metrics.csv, the curve and logs") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  const std::string exp = t.file("exp");
  const std::string ini = write_ini(t, "tiny.ini", tiny_train_ini(cache, exp, "[checkpoints]\ntopk = 1\n"));
  const Run r = run({ini});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("fold 0: 8 training images (4 positive), 4 validation images (2 positive)") != std::string::npos);
  CHECK(r.out.find("1 epoch: \t Score: ") != std::string::npos);

  const std::string fold = exp + "/checkpoints/fold0";
  CHECK(fs::is_regular_file(exp + "/checkpoints/tiny_fold0.safetensors"));  // best, as the reference names it
  CHECK(fs::is_regular_file(fold + "/tiny_fold0_last.safetensors"));
  CHECK(count_epoch_checkpoints(fold) == 1);  // topk = 1: the worse epoch's file was removed
  CHECK(fs::is_regular_file(exp + "/log/train_main.log"));
  CHECK(slurp(exp + "/log/train_fold0.log").find("Calculated train loss") != std::string::npos);

  // summary.csv: the reference's columns, one row per validated epoch, best_metric = the best column.
  const std::vector<std::string> summary = lines_of(fold + "/summary.csv");
  REQUIRE(summary.size() == 3);
  CHECK(summary[0] ==
        "epoch,best_metric,\"(0.3, 0, 0.2)\",\"(0.3, 0, 0.4)\",\"(0.3, 20, 0.2)\",\"(0.3, 20, 0.4)\","
        "\"(0.6, 0, 0.2)\",\"(0.6, 0, 0.4)\",\"(0.6, 20, 0.2)\",\"(0.6, 20, 0.4)\"");
  for (int row = 1; row <= 2; ++row) {
    std::vector<double> values;
    std::istringstream in(summary[static_cast<size_t>(row)]);
    for (std::string f; std::getline(in, f, ',');) values.push_back(std::stod(f));
    REQUIRE(values.size() == 10);
    CHECK(values[0] == row - 1);
    CHECK(values[1] == *std::max_element(values.begin() + 2, values.end()));
    for (size_t i = 1; i < values.size(); ++i) CHECK((values[i] >= 0 && values[i] <= 1));
  }
  // metrics.csv: the cosine schedule's rates, lr(1) = 1e-5 + (1e-3 - 1e-5) * (1 + cos(pi/2)) / 2 = 5.05e-4.
  const CsvLog metrics = metrics_csv(fold + "/metrics.csv");
  REQUIRE(metrics.rows() == 2);
  CHECK(std::stod(metrics.column("lr")[0]) == 0.001);
  CHECK(std::stod(metrics.column("lr")[1]) == doctest::Approx(5.05e-4).epsilon(1e-12));
  for (const std::string& loss : metrics.column("train_loss")) CHECK(std::stod(loss) > 0);
  CHECK(metrics.column("best_triplet")[1].front() == '(');

  const GrayImage curve = data::read_image_gray(fold + "/learning_curve.png");
  CHECK(curve.width == 640);
  CHECK(curve.height == 360);
  CHECK(std::count(curve.pixels.begin(), curve.pixels.end(), 0) > 100);  // axes, text, the score line

  // The best checkpoint loads strictly into a fresh AlbuNet; the state says the fold is finished.
  std::shared_ptr<Model> model = make_model("albunet", 99);
  CHECK_NOTHROW(load_state_dict_file(model->state_dict_slots(), exp + "/checkpoints/tiny_fold0.safetensors"));
  const TrainingState st = peek_training_state(fold + "/tiny_fold0_last_state.safetensors");
  CHECK(st.finished);
  CHECK(st.epoch == 2);
  CHECK(st.topk.size() == 1);

  // --resume of a finished run does nothing; a fresh run of the same config appends to summary.csv and
  // starts from its best score (the reference's behaviour for staged runs in one folder).
  const Run again = run({ini, "--resume"});
  CHECK(again.code == 0);
  CHECK(again.out.find("already finished") != std::string::npos);
  CHECK(lines_of(fold + "/summary.csv").size() == 3);
}

TEST_CASE("train_unet: stopped inside an epoch and before a validation, then resumed, ends bit-identical") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  // grad_accum = 3 with 4 batches per epoch: the stop after batch 1 leaves accumulated gradients, and a
  // remainder carries over between epochs, so the saved gradients matter too.
  const std::string extra = "[checkpoints]\ntopk = 2\n";
  const std::string ini_a = write_ini(t, "a.ini", tiny_train_ini(cache, t.file("a"), extra));
  const std::string ini_b = write_ini(t, "b.ini", tiny_train_ini(cache, t.file("b"), extra));
  const std::vector<std::string> accum = {"--set", "train.grad_accum=3"};
  auto with = [&](const std::string& ini, std::vector<std::string> more) {
    std::vector<std::string> args = {ini, accum[0], accum[1]};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };

  const Run a = run(with(ini_a, {}));
  REQUIRE_MESSAGE(a.code == 0, a.err);

  // 1: the test hook stops after batch 1 of epoch 0.
  TrainOptions stop_mid_epoch;
  stop_mid_epoch.after_batch = [](int, int64_t epoch, int64_t batch) { return epoch == 0 && batch == 1; };
  const Run b1 = run(with(ini_b, {}), stop_mid_epoch);
  REQUIRE_MESSAGE(b1.code == 128 + SIGINT, b1.err);
  CHECK(b1.err.find("stopped by signal 2") != std::string::npos);
  const std::string fold_b = t.file("b/checkpoints/fold0");
  TrainingState st = peek_training_state(fold_b + "/tiny_fold0_last_state.safetensors");
  CHECK(st.epoch == 0);
  CHECK(st.batch == 2);
  CHECK_FALSE(st.finished);
  CHECK(st.loss_count == 2);

  // Without --resume an interrupted fold is not overwritten.
  const Run refused = run(with(ini_b, {}));
  CHECK(refused.code == 1);
  CHECK(refused.err.find("add --resume") != std::string::npos);

  // 2: resumed, then a real SIGINT after the last batch of epoch 1: the state is saved before validating.
  TrainOptions sigint_at_end;
  sigint_at_end.after_batch = [](int, int64_t epoch, int64_t batch) {
    if (epoch == 1 && batch == 3) std::raise(SIGINT);
    return false;
  };
  const Run b2 = run(with(ini_b, {"--resume"}), sigint_at_end);
  REQUIRE_MESSAGE(b2.code == 128 + SIGINT, b2.err);
  st = peek_training_state(fold_b + "/tiny_fold0_last_state.safetensors");
  CHECK(st.epoch == 1);
  CHECK(st.training_done);
  CHECK(st.summary_rows == 1);

  // 3: resumed to the end.
  const Run b3 = run(with(ini_b, {"--resume"}));
  REQUIRE_MESSAGE(b3.code == 0, b3.err);

  const std::string fold_a = t.file("a/checkpoints/fold0");
  for (const std::string name : {"tiny_fold0_last.safetensors", "tiny_fold0_last_state.safetensors", "summary.csv",
                                 "tiny_fold0_epoch0.safetensors", "tiny_fold0_epoch1.safetensors"}) {
    CHECK_MESSAGE(slurp(fold_a + "/" + name) == slurp(fold_b + "/" + name), name);
  }
  CHECK(slurp(t.file("a/checkpoints/tiny_fold0.safetensors")) == slurp(t.file("b/checkpoints/tiny_fold0.safetensors")));
  const CsvLog ma = metrics_csv(fold_a + "/metrics.csv"), mb = metrics_csv(fold_b + "/metrics.csv");
  for (const std::string col : {"epoch", "train_loss", "lr", "best_triplet", "score"})
    CHECK_MESSAGE(ma.column(col) == mb.column(col), col);
}

TEST_CASE("train_unet: usage and configuration errors exit non-zero with one clear message") {
  TempDir t;
  CHECK(run({}).code == 2);
  CHECK(run({"a.ini", "b.ini"}).code == 2);
  CHECK(run({"a.ini", "--sett", "x"}).code == 2);
  CHECK(run({"a.ini", "--set"}).code == 2);
  const Run help = run({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--resume") != std::string::npos);

  const Run missing = run({t.file("nope.ini")});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("nope.ini' does not exist") != std::string::npos);

  const TinyCache cache = make_tiny_cache(t.file("cache"), 6, 64, 3);
  const std::string ini = write_ini(t, "c.ini", tiny_train_ini(cache, t.file("exp"), "[augment]\nhflip.q = 0.5\n"));
  const Run unknown = run({ini});
  CHECK(unknown.code == 1);
  CHECK(unknown.err.find("c.ini:32: unknown key [augment] hflip.q") != std::string::npos);
  const Run bad_set = run({ini, "--set", "augment.hflip.q", "--set", "train.epochs=two"});
  CHECK(bad_set.code == 1);
  const Run bad_value = run({write_ini(t, "d.ini", tiny_train_ini(cache, t.file("exp"))), "--set", "train.epochs=two"});
  CHECK(bad_value.code == 1);
  CHECK(bad_value.err.find("--set train.epochs: [train] epochs: 'two' is not an integer") != std::string::npos);
}

TEST_CASE("train_unet: [init] starts from an earlier stage's checkpoint; a frozen encoder is not updated") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  // The earlier stage: some AlbuNet's weights where [init] looks for them (<folder>/<pipeline>_fold0).
  std::shared_ptr<Model> earlier = make_model("albunet", 5);
  fs::create_directories(t.file("stage0"));
  save_weights(t.file("stage0/stage0_fold0.safetensors"), *earlier, {});
  const std::string init = "[init]\nfolder = " + t.file("stage0") + "\npipeline = stage0\n";
  const std::string ini = write_ini(t, "s1.ini", tiny_train_ini(cache, t.file("s1"), init));
  // Also without the sampler: all 8 training images in 4 batches (the sampler at rate 0.8 would take the
  // 4 positives and int(4 * 0.2 / 0.8) = 1 negative, 3 batches).
  const Run r = run({ini, "--set", "model.freeze_encoder_epochs=1", "--set", "train.epochs=1", "--set",
                     "sampler.enabled=false", "--set", "sampler.rate=0.8"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.find("fold 0 epoch 0 train 4/4") != std::string::npos);
  CHECK(r.out.find("load model from " + t.file("stage0/stage0_fold0.safetensors")) != std::string::npos);
  CHECK(r.out.find("encoder frozen") != std::string::npos);

  std::map<std::string, Tensor> last;
  for (NamedTensor& n : read_safetensors(t.file("s1/checkpoints/fold0/tiny_fold0_last.safetensors"))) last[n.name] = n.tensor;
  std::map<std::string, Tensor> start;
  for (NamedTensor& n : state_dict_of(earlier->state_dict_slots())) start[n.name] = n.tensor;
  auto same = [&](const std::string& k) { return last.at(k).to_vector() == start.at(k).to_vector(); };
  CHECK(same("encoder.conv1.weight"));
  CHECK(same("encoder.layer4.2.bn2.weight"));
  CHECK_FALSE(same("encoder.bn1.running_mean"));  // batch statistics still move in training mode, as in PyTorch
  CHECK_FALSE(same("dec0.conv.weight"));
  CHECK_FALSE(same("final.weight"));

  // Without the file, the fold starts from scratch with a log line (Train.py skips a missing file too).
  const std::string absent = "[init]\nfolder = " + t.file("nowhere") + "\npipeline = stage0\n";
  // validate_only (MODEL.FREEZE): one validation of the starting weights, a summary row, no checkpoint.
  const Run v = run({write_ini(t, "v.ini", tiny_train_ini(cache, t.file("v"), absent)), "--set",
                     "model.validate_only=true"});
  REQUIRE_MESSAGE(v.code == 0, v.err);
  CHECK(v.out.find("no checkpoint " + t.file("nowhere/stage0_fold0.safetensors") + " to start from") !=
        std::string::npos);
  CHECK(lines_of(t.file("v/checkpoints/fold0/summary.csv")).size() == 2);
  const CsvLog m = metrics_csv(t.file("v/checkpoints/fold0/metrics.csv"));
  CHECK(m.column("train_loss") == std::vector<std::string>{""});
  CHECK_FALSE(fs::exists(t.file("v/checkpoints/tiny_fold0.safetensors")));
}

namespace {

// Puts a NaN into the first gradient element of the first parameter.
void poison_gradient(const std::vector<Tensor*>& params) {
  Tensor grad = params.front()->grad();  // shares the gradient's storage
  REQUIRE(grad.defined());
  grad.data<float>()[0] = NAN;
}

// Every tensor of two state files (weights, running statistics, Adam moments, gradients) holds the same
// bytes, except BatchNorm's num_batches_tracked: a's counts `more_forwards` more training forward passes
// (it counts every one, skipped steps included: putting it back would need a host read of the ledger).
void check_same_tensors(const std::string& a, const std::string& b, int64_t more_forwards = 0) {
  const std::vector<NamedTensor> ta = read_safetensors(a), tb = read_safetensors(b);
  REQUIRE(ta.size() == tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    CAPTURE(ta[i].name);
    REQUIRE(ta[i].name == tb[i].name);
    REQUIRE(ta[i].tensor.nbytes() == tb[i].tensor.nbytes());
    if (ta[i].name.ends_with(".num_batches_tracked"))
      CHECK(ta[i].tensor.data<int64_t>()[0] == tb[i].tensor.data<int64_t>()[0] + more_forwards);
    else
      CHECK(std::memcmp(ta[i].tensor.raw(), tb[i].tensor.raw(), ta[i].tensor.nbytes()) == 0);
  }
}

}  // namespace

TEST_CASE("train_unet: a NaN gradient skips its step, leaving weights and Adam state unchanged; the run goes on") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  const std::string ini_x = write_ini(t, "x.ini", tiny_train_ini(cache, t.file("x")));
  const std::string ini_y = write_ini(t, "y.ini", tiny_train_ini(cache, t.file("y")));
  // x: a NaN in a gradient of batch 1, stopped right after it; y: no NaN, stopped after batch 0.
  TrainOptions poisoned;
  poisoned.after_backward = [](int, int64_t epoch, int64_t batch, const std::vector<Tensor*>& params) {
    if (epoch == 0 && batch == 1) poison_gradient(params);
  };
  poisoned.after_batch = [](int, int64_t epoch, int64_t batch) { return epoch == 0 && batch == 1; };
  const Run x = run({ini_x}, poisoned);
  REQUIRE_MESSAGE(x.code == 128 + SIGINT, x.err);
  CHECK_MESSAGE((x.out + x.err).find("non-finite step skipped (epoch 0 batch 1: loss ") != std::string::npos, x.out);
  CHECK((x.out + x.err).find("gradient norm nan); weights and optimizer state unchanged; 1 in a row, 1 in this fold") !=
        std::string::npos);
  TrainOptions clean;
  clean.after_batch = [](int, int64_t epoch, int64_t batch) { return epoch == 0 && batch == 0; };
  const Run y = run({ini_y}, clean);
  REQUIRE_MESSAGE(y.code == 128 + SIGINT, y.err);

  const std::string state_x = t.file("x/checkpoints/fold0/tiny_fold0_last_state.safetensors");
  const std::string state_y = t.file("y/checkpoints/fold0/tiny_fold0_last_state.safetensors");
  check_same_tensors(state_x, state_y, 1);  // the skipped step changed nothing but the forward counts
  const TrainingState sx = peek_training_state(state_x), sy = peek_training_state(state_y);
  CHECK(sx.batch == 2);
  CHECK(sy.batch == 1);
  CHECK(sx.nonfinite_in_a_row == 1);
  CHECK(sx.nonfinite_total == 1);
  CHECK(sy.nonfinite_total == 0);

  // Resumed, the next good step clears the run of bad steps; the total stays, and training ends normally.
  const Run rest = run({ini_x, "--resume"});
  REQUIRE_MESSAGE(rest.code == 0, rest.err);
  const TrainingState end = peek_training_state(state_x);
  CHECK(end.finished);
  CHECK(end.nonfinite_in_a_row == 0);
  CHECK(end.nonfinite_total == 1);
}

TEST_CASE("train_unet: a training step reads nothing back from the device except every log_every batches") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  const std::string ini_a = write_ini(t, "a.ini", tiny_train_ini(cache, t.file("a")));
  const std::string ini_b = write_ini(t, "b.ini", tiny_train_ini(cache, t.file("b")));
  // Host reads (engine/counters.h: the calls that make a GPU step wait) at the end of each batch, and the
  // host allocator's misses (requests the C library served: the CPU's cudaMalloc).
  std::vector<std::pair<int64_t, int64_t>> reads;  // (batch, reads so far)
  std::vector<size_t> misses;
  TrainOptions counting;
  counting.after_batch = [&](int, int64_t, int64_t batch) {
    reads.emplace_back(batch, engine_counters().host_reads);
    misses.push_back(host_memory_stats().cache_misses);
    return false;
  };
  // workers = 0: batches are made on the training thread, so the misses counted are the step's alone (loader
  // threads running ahead by a varying number of batches made them vary under load).
  const Run a = run({ini_a, "--set", "run.log_every=3", "--set", "run.workers=0"}, counting);
  REQUIRE_MESSAGE(a.code == 0, a.err);
  REQUIRE(reads.size() == 8);  // 2 epochs of 4 batches
  for (size_t i = 1; i < reads.size(); ++i) {
    const int64_t batch = reads[i].first;
    if (batch == 0) continue;  // the first batch of an epoch follows validation and checkpoints
    CAPTURE(batch);
    // Batch 2 ends 3 batches (a logging batch), batch 3 ends the epoch; batch 1 reads nothing.
    CHECK(reads[i].second - reads[i - 1].second == (batch == 1 ? 0 : 1));
    // In the steady state (after the first two steps, which fill the cache) a step finds every block it
    // needs in the cache.
    if (i >= 2) CHECK(misses[i] == misses[i - 1]);
  }
  // The interval changes when the host looks, not what is computed: the same weights as logging every batch.
  const Run b = run({ini_b, "--set", "run.log_every=1"});
  REQUIRE_MESSAGE(b.code == 0, b.err);
  check_same_tensors(t.file("a/checkpoints/fold0/tiny_fold0_last_state.safetensors"),
                     t.file("b/checkpoints/fold0/tiny_fold0_last_state.safetensors"));
  CHECK(metrics_csv(t.file("a/checkpoints/fold0/metrics.csv")).column("train_loss") ==
        metrics_csv(t.file("b/checkpoints/fold0/metrics.csv")).column("train_loss"));
  CHECK(slurp(t.file("a/log/train_main.log")).find("run.log_every = 3") != std::string::npos);
}

TEST_CASE("train_unet: precision = bf16 trains with bfloat16 convolutions and saves float32 weights") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  const std::string ini_a = write_ini(t, "a.ini", tiny_train_ini(cache, t.file("a")));
  const std::string ini_b = write_ini(t, "b.ini", tiny_train_ini(cache, t.file("b")));
  const Run bf16 = run({ini_a, "--set", "train.epochs=1", "--set", "train.precision=bf16"});
  REQUIRE_MESSAGE(bf16.code == 0, bf16.err);
  CHECK(bf16.out.find(" on cpu in bf16, config ") != std::string::npos);
  const Run fp32 = run({ini_b, "--set", "train.epochs=1"});
  REQUIRE_MESSAGE(fp32.code == 0, fp32.err);
  CHECK(precision() == Precision::kFloat32);  // the run's policy ends with it
  const std::vector<NamedTensor> a = read_safetensors(t.file("a/checkpoints/tiny_fold0.safetensors"));
  const std::vector<NamedTensor> b = read_safetensors(t.file("b/checkpoints/tiny_fold0.safetensors"));
  REQUIRE(a.size() == b.size());
  int differ = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].tensor.dtype() == b[i].tensor.dtype());  // float32 master weights (int64 BN counts)
    differ += std::memcmp(a[i].tensor.raw(), b[i].tensor.raw(), a[i].tensor.nbytes()) != 0;
  }
  CHECK(differ > 0);
}

TEST_CASE("train_unet: max_nonfinite_steps bad steps in a row end the run with the last good state saved") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  const std::string ini_x = write_ini(t, "x.ini", tiny_train_ini(cache, t.file("x")));
  const std::string ini_y = write_ini(t, "y.ini", tiny_train_ini(cache, t.file("y")));
  TrainOptions poisoned;  // every batch from batch 1 on
  poisoned.after_backward = [](int, int64_t epoch, int64_t batch, const std::vector<Tensor*>& params) {
    if (epoch > 0 || batch >= 1) poison_gradient(params);
  };
  const Run x = run({ini_x, "--set", "train.max_nonfinite_steps=2"}, poisoned);
  CHECK(x.code == 1);
  CHECK_MESSAGE(x.err.find("[train] fold 0: 2 optimizer steps in a row had a non-finite loss or gradient (the last at "
                           "epoch 0 batch 2: loss ") != std::string::npos,
                x.err);
  CHECK(x.err.find("max_nonfinite_steps = 2") != std::string::npos);
  CHECK(x.err.find("tiny_fold0_last_state.safetensors holds the weights and optimizer state of the last good step") !=
        std::string::npos);
  TrainOptions clean;
  clean.after_batch = [](int, int64_t epoch, int64_t batch) { return epoch == 0 && batch == 0; };
  const Run y = run({ini_y}, clean);
  REQUIRE_MESSAGE(y.code == 128 + SIGINT, y.err);
  const std::string state_x = t.file("x/checkpoints/fold0/tiny_fold0_last_state.safetensors");
  check_same_tensors(state_x, t.file("y/checkpoints/fold0/tiny_fold0_last_state.safetensors"), 2);
  const TrainingState sx = peek_training_state(state_x);
  CHECK(sx.nonfinite_in_a_row == 2);
  CHECK(sx.batch == 2);  // batch 2, the last bad one, comes again on --resume
  CHECK_FALSE(sx.finished);
  // A bad value is refused with the key's file:line.
  const Run bad = run({ini_x, "--set", "train.max_nonfinite_steps=0"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("max_nonfinite_steps") != std::string::npos);
}

TEST_CASE("train_unet: an output folder in use by another run is refused, naming that run") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  const std::string ini = write_ini(t, "x.ini", tiny_train_ini(cache, t.file("x")));
  {
    const FolderLock other(t.file("x"), "infer_unet");  // as if another tool were writing there
    const Run refused = run({ini});
    CHECK(refused.code == 1);
    CHECK_MESSAGE(refused.err.find("the output folder '" + t.file("x") + "' is in use by infer_unet (pid ") !=
                      std::string::npos,
                  refused.err);
    CHECK_FALSE(fs::exists(t.file("x/checkpoints")));  // nothing was written
  }
  TrainOptions stop_at_once;
  stop_at_once.after_batch = [](int, int64_t, int64_t) { return true; };
  CHECK(run({ini}, stop_at_once).code == 128 + SIGINT);  // free again
}

TEST_CASE("train_unet: out of host memory mid-training ends the run naming the request, the layer and what to lower") {
  TempDir t;
  const TinyCache cache = make_tiny_cache(t.file("cache"), 12, 64, 3);
  const std::string ini = write_ini(t, "x.ini", tiny_train_ini(cache, t.file("x")));
  // From batch 1 on, host requests of 256 KiB or more fail: a [2, 64, 32, 32] activation is 512 KiB.
  auto failure = std::make_shared<std::unique_ptr<HostAllocFailure>>();
  TrainOptions hooks;
  hooks.after_batch = [failure](int, int64_t epoch, int64_t batch) {
    if (epoch == 0 && batch == 0) *failure = std::make_unique<HostAllocFailure>(size_t(256) << 10);
    return false;
  };
  const Run r = run({ini}, hooks);
  failure->reset();
  CHECK(r.code == 1);
  for (const char* part : {"[cpu alloc] out of memory: asked for ", " during ", " in layer encoder",
                           "(training albunet at 64x64, batch 2, fold 0)", "the machine has ",
                           "Lower the batch size ([train] batch_size, --batch) or the image size ([data] size"})
    CHECK_MESSAGE(r.err.find(part) != std::string::npos, "lacks '", std::string(part), "': ", r.err);
}
