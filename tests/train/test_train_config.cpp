// Tests of train/train_config.h: a full configuration read into its typed fields, the defaults, every kind
// of error with file:line, the configs/ INI versions of the solution's YAMLs (values checked against the
// YAMLs), and the configuration hash. (Model names, input multiples and encoder prefixes come from the
// registry, tested in tests/models/test_registry.cpp.)
#include "train/train_config.h"

#include <filesystem>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/train/train_testing.h"
#include "train/triplet_search.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::testing;

namespace {

// A folder with what the paths of a configuration must name: a cache (images/ inside) and a folds file.
struct Paths {
  TempDir dir;
  std::string cache = dir.file("cache"), folds = dir.file("folds.csv");
  Paths() {
    fs::create_directories(cache + "/images");
    write_file_atomic(folds, "fname,fold,exist_labels\na.png,0,1\nb.png,1,0\n");
  }
  // The smallest valid configuration (line numbers: [run] 1, pipeline 2, output 3, [data] 4, cache 5,
  // size 6, [folds] 7, file 8, [model] 9, name 10), then `extra`.
  std::string ini(const std::string& extra = "") const {
    return "[run]\npipeline = p\noutput = " + dir.file("out") + "\n[data]\ncache = " + cache +
           "\nsize = 128\n[folds]\nfile = " + folds + "\n[model]\nname = albunet\n" + extra;
  }
};

bool same(const Triplet& a, const Triplet& b) {
  return a.top == b.top && a.min_area == b.min_area && a.bottom == b.bottom;
}

}  // namespace

TEST_CASE("train config: every section read into typed values") {
  Paths p;
  const TrainConfig c = parse_train_config(
      p.ini("[init]\nfolder = prev/checkpoints\npipeline = stage0\n"
            "[sampler]\nrate_start = 0.8\nrate_end = 0.4\n"
            "[augment]\nhflip.p = 0.25\nintensity.gamma.gamma_max = 130\ndistortion.grid.num_steps = 7\n"
            "shift_scale_rotate.rotate_limit = 30\n"
            "[loss]\nbce = 2\ndice = 1\nfocal = 2\n"
            "[optimizer]\ntype = adam\nlr = 3e-5\nweight_decay = 0\n"
            "[scheduler]\ntype = warm_restarts\nt_0 = 2\nt_mult = 3\neta_min = 1e-7\n"
            "[train]\nepochs = 7\nbatch_size = 4\ngrad_accum = 2\ngrad_clip = 0.5\nearly_stopping = 3\n"
            "[validation]\nfrequency = 2\naverage = per_batch\ntriplets = 0.75 1000 0.3, 0.6 0 0.4\n"
            "[checkpoints]\nfull_folder = hist\nbest_folder = best\ntopk = 4\n"),
      "full.ini", {"run.device=cuda:1", "run.workers=5", "run.log_every=7", "folds.use=1, 0"});
  CHECK(c.pipeline == "p");
  CHECK(c.device == Device::cuda(1));
  CHECK(c.workers == 5);
  CHECK(c.log_every == 7);
  CHECK(log_interval(c) == 7);
  CHECK(c.cache == p.cache);
  CHECK(c.size == 128);
  CHECK(c.normalization == augment::Normalization::kUnit);
  CHECK(c.folds_use == std::vector<int>{1, 0});
  CHECK(c.model == "albunet");
  CHECK(c.init_folder == "prev/checkpoints");
  CHECK(c.init_pipeline == "stage0");
  CHECK(c.rate_start == 0.8);
  CHECK(c.rate_end == 0.4);
  CHECK(c.augment.hflip.p == 0.25);
  CHECK(c.augment.intensity.gamma.gamma_max == 130);
  CHECK(c.augment.distortion.grid.num_steps == 7);
  CHECK(c.augment.shift_scale_rotate.rotate_limit == 30);
  CHECK(c.augment.size == 128);
  CHECK(c.augment.distortion.elastic.alpha == 120);  // untouched fields keep the solution's values
  CHECK(c.loss.w_bce == 2);
  CHECK(c.loss.w_focal == 2);
  CHECK(c.lr == 3e-5);
  CHECK(c.weight_decay == 0);
  CHECK(c.scheduler == SchedulerType::kWarmRestarts);
  CHECK(c.warm_restarts.t_0 == 2);
  CHECK(c.warm_restarts.t_mult == 3);
  CHECK(c.epochs == 7);
  CHECK(c.batch_size == 4);
  CHECK(c.grad_accum == 2);
  CHECK(c.grad_clip == 0.5);
  CHECK(c.early_stopping == 3);
  CHECK(c.validation_frequency == 2);
  CHECK(c.average == ScoreAverage::kPerBatch);
  REQUIRE(c.triplets.size() == 2);
  CHECK(same(c.triplets[1], Triplet{0.6, 0, 0.4}));
  CHECK(c.full_folder == "hist");
  CHECK(c.best_folder == "best");
  CHECK(c.topk == 4);
  CHECK(c.where("data.size") == "full.ini:6: [data] size");
}

TEST_CASE("train config: defaults are the solution's; a grid; a DICOM tree instead of a cache") {
  Paths p;
  const TrainConfig c = parse_train_config(p.ini(), "min.ini");
  CHECK(c.device == Device::cpu());
  CHECK(c.seed == 42);
  CHECK(c.use_sampler);
  CHECK(c.rate_start == 0.8);
  CHECK(c.rate_end == 0.8);
  CHECK(c.loss.w_bce == 3);
  CHECK(c.loss.w_dice == 1);
  CHECK(c.loss.w_focal == 4);
  CHECK(c.lr == 1e-4);
  CHECK(c.weight_decay == 5e-6);
  CHECK(c.scheduler == SchedulerType::kPlateau);
  CHECK(c.plateau.patience == 2);
  CHECK(c.plateau.min_lr == 1e-7);
  CHECK(c.grad_clip == 0.1);
  CHECK(c.batch_size == 2);
  CHECK(c.average == ScoreAverage::kPerImage);
  REQUIRE(c.triplets.size() == config_triplets().size());
  for (size_t i = 0; i < c.triplets.size(); ++i) CHECK(same(c.triplets[i], config_triplets()[i]));
  CHECK(c.augment.distortion.p == 0.3);
  CHECK(c.folds_use.empty());

  const TrainConfig g = parse_train_config(p.ini("[validation]\ntops = 0.5, 0.7\nareas = 0, 100\nbottoms = 0.3\n"), "g.ini");
  REQUIRE(g.triplets.size() == 4);
  CHECK(same(g.triplets[1], Triplet{0.5, 100, 0.3}));
  CHECK(same(g.triplets[2], Triplet{0.7, 0, 0.3}));

  write_file_atomic(p.dir.file("labels.csv"), "ImageId,EncodedPixels\na,-1\n");
  const std::string tree =
      "[run]\npipeline = p\noutput = o\n[data]\nimages = " + p.dir.path() + "\nlabels = " + p.dir.file("labels.csv") +
      "\nsize = 64\n[folds]\nfile = " + p.folds + "\n[model]\nname = albunet\n";
  const TrainConfig t = parse_train_config(tree, "tree.ini");
  CHECK(t.cache.empty());
  CHECK(t.images == p.dir.path());
}

TEST_CASE("train config: errors name file:line and say what was expected") {
  Paths p;
  auto fails = [&](const std::string& text, const std::vector<std::string>& parts,
                   const std::vector<std::string>& overrides = {}) {
    expect_error([&] { parse_train_config(text, "bad.ini", overrides); }, parts);
  };
  // Unknown key and section (reported together), a misspelt key inside a known section.
  fails(p.ini("[train]\nepoch = 3\n[trian]\nepochs = 3\n"),
        {"bad.ini:12: unknown key [train] epoch", "bad.ini:14: unknown key [trian] epochs"});
  // Bad values.
  fails(p.ini("[optimizer]\nlr = fast\n"), {"bad.ini:12: [optimizer] lr: 'fast' is not a number"});
  fails(p.ini("[train]\nbatch_size = 0\n"), {"bad.ini:12: [train] batch_size: 0 out of range"});
  fails(p.ini("[augment]\nhflip.p = 1.5\n"), {"bad.ini:12: [augment] hflip.p: 1.5 out of range"});
  fails(p.ini("[augment]\nintensity.gamma.gamma_min = 130\n"), {"bad.ini", "gamma_min = 130"});
  fails(p.ini("[validation]\naverage = mean\n"), {"bad.ini:12: [validation] average: 'mean'", "per_image or per_batch"});
  fails(p.ini(), {"--set run.device: [run] device", "cannot parse device 'gpu'"}, {"run.device=gpu"});
  fails(p.ini("[data]\n"), {"section [data] repeated"});
  fails(p.ini("[sampler]\nrate = 0\n"), {"bad.ini:12: [sampler] rate: 0 out of range"});
  fails(p.ini("[sampler]\nrate = 0.5\nrate_end = 0.4\n"), {"bad.ini:12: [sampler] rate", "not both"});
  fails(p.ini("[scheduler]\ntype = cosine\npatience = 2\n"),
        {"bad.ini:13: [scheduler] patience: not a setting of type = cosine (it belongs to plateau)"});
  fails(p.ini("[scheduler]\ntype = step\n"), {"bad.ini:12: [scheduler] type: 'step'"});
  fails(p.ini("[optimizer]\ntype = sgd\n"), {"bad.ini:12: [optimizer] type: 'sgd'", "only adam"});
  // Missing files and folders, and a cache without images/.
  fails(p.ini(), {"--set folds.file: [folds] file: file 'nope.csv' does not exist"}, {"folds.file=nope.csv"});
  fails(p.ini(), {"--set data.cache: [data] cache: folder 'nowhere' does not exist"}, {"data.cache=nowhere"});
  fails(p.ini(), {"is not a prepared cache"}, {"data.cache=" + p.dir.path()});
  fails(p.ini("[model]\n"), {"section [model] repeated"});
  fails(p.ini(), {"--set model.pretrained_encoder: [model] pretrained_encoder: file 'enc.safetensors' does not exist"},
        {"model.pretrained_encoder=enc.safetensors"});
  // Unknown model, a size the model refuses, a missing required key.
  fails(p.ini(), {"--set model.name: [model] name: unknown model 'unet' (known: albunet, resnet50_unet, scse_unet)"},
        {"model.name=unet"});
  fails(p.ini(), {"--set data.size: [data] size: 96 is not a multiple of 64, which albunet needs"}, {"data.size=96"});
  fails(p.ini("[run]\n"), {"section [run] repeated"});
  fails("[run]\npipeline = p\noutput = o\n", {"bad.ini", "[data] needs either cache"});
  fails(p.ini(), {"--set run.pipeline: [run] pipeline: 'a/b' must be a plain name"}, {"run.pipeline=a/b"});
  // A missing required key is named as missing, not as an invalid value.
  std::string no_pipeline = p.ini();
  no_pipeline.erase(no_pipeline.find("pipeline = p\n"), 13);
  fails(no_pipeline, {"bad.ini: [run] lacks the required key 'pipeline'"});
  fails(p.ini("[init]\nfolder = f\n"), {"bad.ini: [init] lacks the required key 'pipeline'"});
  // A path that is a folder where a file belongs, or a dangling link.
  fails(p.ini(), {"--set folds.file: [folds] file: file '" + p.cache + "' is a folder, expected a file"},
        {"folds.file=" + p.cache});
  fs::create_symlink(p.dir.file("gone.csv"), p.dir.file("link.csv"));
  fails(p.ini(), {"[folds] file: file '" + p.dir.file("link.csv") + "' is a symbolic link to '" + p.dir.file("gone.csv") +
                  "', which does not exist"},
        {"folds.file=" + p.dir.file("link.csv")});
  expect_error([&] { load_train_config(p.cache, {}); }, {"config file '" + p.cache + "' is a folder, expected a file"});
  expect_error([&] { load_train_config(p.dir.file("absent.ini"), {}); },
               {"config file '" + p.dir.file("absent.ini") + "' does not exist"});
  // Bad triplet lists.
  fails(p.ini("[validation]\ntriplets = 0.75 1000 0.3, 0.75 1000\n"),
        {"bad.ini:12: [validation] triplets: item 2 '0.75 1000': expected three numbers 'top area bottom'"});
  fails(p.ini("[validation]\ntriplets = 1.5 1000 0.3\n"), {"bad.ini:12", "top 1.5 must be in [0, 1]"});
  fails(p.ini("[validation]\ntriplets = 0.7 10.5 0.3\n"), {"bad.ini:12", "area 10.5 must be a whole number"});
  fails(p.ini("[validation]\ntriplets = 0.7 x 0.3\n"), {"bad.ini:12", "area 'x' is not a number"});
  fails(p.ini("[validation]\ntriplets = 0.7 10 0.3, 0.7 10 0.3\n"), {"bad.ini:12", "(0.7, 10, 0.3) is listed twice"});
  fails(p.ini("[validation]\ntriplets = 0.7 10 0.3\ntops = 0.5\n"), {"not both"});
  fails(p.ini("[validation]\ntops = 0.5\nareas = 0\n"), {"[validation] lacks the required key 'bottoms'"});
  fails(p.ini("[folds]\n"), {"section [folds] repeated"});
  fails(p.ini(), {"--set folds.use: [folds] use: fold 1 listed twice"}, {"folds.use=1,1"});
}

TEST_CASE("train config: configs/ holds the solution's 16 training configs with the YAMLs' values") {
  Paths p;
  const std::string folder = std::string(PLEURA_SOURCE_DIR) + "/configs";
  // Values of unet_pipeline/experiments/<experiment>/train_config_<stage>.yaml, read off the YAMLs:
  // lr, weight decay, sample rate, (bce, dice, focal), epochs, early stopping, top-k, cosine (else plateau),
  // eta_min, ImageNet normalisation (the non-"_old" transforms), 2nd-stage folds file.
  struct Expected {
    const char* file;
    const char* model;
    double lr, wd, rate, bce, dice, focal;
    int64_t epochs, early, topk;
    bool cosine;
    double eta_min;
    bool imagenet, second_stage;
  };
  const Expected expected[] = {
      {"albunet_valid_train_part0", "albunet", 1e-4, 5e-6, 0.8, 3, 1, 4, 50, 10, 5, false, 0, false, false},
      {"albunet_valid_train_part1", "albunet", 1e-5, 5e-6, 0.6, 3, 1, 4, 50, 12, 3, true, 1e-7, false, false},
      {"albunet_valid_train_part2", "albunet", 1e-5, 5e-6, 0.4, 3, 1, 4, 50, 12, 3, true, 1e-7, false, false},
      {"albunet_valid_train_2nd_stage", "albunet", 1e-5, 5e-6, 0.4, 3, 1, 4, 40, 12, 3, true, 1e-7, false, true},
      {"albunet_public_train_part0", "albunet", 1e-4, 5e-6, 0.8, 1, 1, 1, 50, 10, 5, false, 0, false, false},
      {"albunet_public_train_part1", "albunet", 1e-5, 5e-6, 0.4, 1, 1, 1, 50, 12, 3, true, 1e-7, false, false},
      {"albunet_public_train_part2", "albunet", 1e-5, 5e-6, 0.6, 1, 1, 1, 50, 12, 3, true, 1e-7, false, false},
      {"albunet_public_train_2nd_stage", "albunet", 1e-5, 5e-6, 0.4, 1, 1, 1, 40, 12, 3, true, 1e-7, false, true},
      {"resnet50_train_part0", "resnet50_unet", 1e-4, 5e-6, 0.8, 2, 1, 2, 50, 10, 5, false, 0, true, false},
      {"resnet50_train_part1", "resnet50_unet", 1e-5, 5e-6, 0.6, 2, 1, 2, 50, 12, 3, true, 1e-7, true, false},
      {"resnet50_train_part2", "resnet50_unet", 1e-5, 5e-6, 0.4, 2, 1, 2, 50, 12, 3, true, 1e-7, true, false},
      {"resnet50_train_2nd_stage", "resnet50_unet", 1e-5, 5e-6, 0.5, 2, 1, 2, 40, 12, 3, true, 1e-7, false, true},
      {"seunet_train_part0", "scse_unet", 1e-4, 5e-6, 0.8, 3, 1, 4, 50, 10, 5, false, 0, false, false},
      {"seunet_train_part1", "scse_unet", 1e-5, 5e-6, 0.6, 3, 1, 4, 50, 12, 3, true, 1e-7, false, false},
      {"seunet_train_part2", "scse_unet", 1e-5, 5e-6, 0.4, 3, 1, 4, 50, 12, 3, true, 1e-7, false, false},
      {"seunet_train_2nd_stage", "scse_unet", 1e-5, 5e-7, 0.5, 3, 1, 4, 40, 12, 3, true, 1e-8, false, true},
  };
  for (const Expected& e : expected) {
    CAPTURE(e.file);
    const std::string path = folder + "/" + e.file + ".ini";
    // Their data paths are the reference layout's; point them at the test's.
    const std::string ini = read_file(path);
    const std::string folds_line = e.second_stage ? "file = folds/2nd_stage_folds.csv" : "file = folds/train_folds_5.csv";
    CHECK(ini.find(folds_line) != std::string::npos);
    const TrainConfig c = load_train_config(path, {"data.cache=" + p.cache, "folds.file=" + p.folds});
    CHECK(c.model == e.model);
    CHECK(c.lr == e.lr);
    CHECK(c.weight_decay == e.wd);
    CHECK(c.rate_start == e.rate);
    CHECK(c.rate_end == e.rate);
    CHECK(c.loss.w_bce == e.bce);
    CHECK(c.loss.w_dice == e.dice);
    CHECK(c.loss.w_focal == e.focal);
    CHECK(c.epochs == e.epochs);
    CHECK(c.early_stopping == e.early);
    CHECK(c.topk == e.topk);
    CHECK(c.scheduler == (e.cosine ? SchedulerType::kCosine : SchedulerType::kPlateau));
    if (e.cosine) {
      CHECK(c.cosine.t_max == 8);
      CHECK(c.cosine.eta_min == e.eta_min);
    } else {
      CHECK(c.plateau.factor == 0.1);
      CHECK(c.plateau.patience == 2);
      CHECK(c.plateau.threshold == 1e-7);
      CHECK(c.plateau.min_lr == 1e-7);
    }
    CHECK(c.normalization == (e.imagenet ? augment::Normalization::kImagenet : augment::Normalization::kUnit));
    CHECK(c.size == 1024);
    CHECK(c.batch_size == 2);
    CHECK(c.grad_accum == 1);
    CHECK(c.grad_clip == 0.1);
    CHECK(c.seed == 42);
    CHECK(c.device == Device::cuda(0));
    CHECK(c.workers == 12);
    CHECK(c.average == ScoreAverage::kPerBatch);
    CHECK(c.folds_use == std::vector<int>{0, 1, 2, 3, 4});
    CHECK_FALSE(c.init_folder.empty());
    REQUIRE(c.triplets.size() == config_triplets().size());
    for (size_t i = 0; i < c.triplets.size(); ++i) CHECK(same(c.triplets[i], config_triplets()[i]));
  }
  // The demo configuration parses too.
  const TrainConfig demo = load_train_config(folder + "/demo.ini", {"data.cache=" + p.cache, "folds.file=" + p.folds});
  CHECK(demo.size == 128);
  CHECK(demo.device == Device::cpu());
  CHECK(demo.triplets.size() == 7 * 7 * 5);
}

TEST_CASE("train config: precision fp32 (default) or bf16, in the hash only when bf16") {
  Paths p;
  const TrainConfig fp32 = parse_train_config(p.ini(), "a.ini");
  CHECK(fp32.precision == Precision::kFloat32);
  const TrainConfig bf16 = parse_train_config(p.ini(), "b.ini", {"train.precision=bf16"});
  CHECK(bf16.precision == Precision::kBFloat16);
  CHECK(config_hash(parse_train_config(p.ini(), "c.ini", {"train.precision=fp32"})) == config_hash(fp32));
  CHECK(config_hash(bf16) != config_hash(fp32));
  CHECK(config_text(bf16).find("train.precision = bf16\n") != std::string::npos);
  expect_error([&] { parse_train_config(p.ini(), "d.ini", {"train.precision=fp16"}); },
               {"train.precision", "'fp16' is not fp32 or bf16"});
}

TEST_CASE("train config: log_every's default reads the device's ledger every batch on the CPU, every 20 on CUDA") {
  Paths p;
  const TrainConfig cpu = parse_train_config(p.ini(), "a.ini");
  CHECK(cpu.log_every == 0);
  CHECK(log_interval(cpu) == 1);
  CHECK(log_interval(parse_train_config(p.ini(), "b.ini", {"run.device=cuda"})) == 20);
  CHECK(config_text(cpu).find("run.log_every = 1\n") != std::string::npos);
  expect_error([&] { parse_train_config(p.ini(), "c.ini", {"run.log_every=-1"}); }, {"log_every", "-1"});
}

TEST_CASE("train config: cuda_graphs needs a cuda device and grad_accum = 1, and leaves the hash alone") {
  Paths p;
  CHECK_FALSE(parse_train_config(p.ini(), "a.ini").cuda_graphs);
  const TrainConfig on = parse_train_config(p.ini(), "b.ini", {"run.device=cuda", "run.cuda_graphs=true"});
  CHECK(on.cuda_graphs);
  CHECK(config_text(on).find("run.cuda_graphs = true\n") != std::string::npos);
  CHECK(config_hash(on) == config_hash(parse_train_config(p.ini(), "c.ini", {"run.device=cuda"})));
  expect_error([&] { parse_train_config(p.ini(), "d.ini", {"run.cuda_graphs=true"}); },
               {"run.cuda_graphs", "need device = cuda", "the device is cpu"});
  expect_error([&] { parse_train_config(p.ini(), "e.ini", {"run.device=cuda", "run.cuda_graphs=true", "train.grad_accum=2"}); },
               {"run.cuda_graphs", "need grad_accum = 1", "it is 2"});
  expect_error([&] { parse_train_config(p.ini(), "f.ini", {"run.cuda_graphs=maybe"}); }, {"cuda_graphs", "maybe"});
}

TEST_CASE("train config: cudnn_algorithms is measured or reproducible, and leaves the hash alone") {
  Paths p;
  const TrainConfig measured = parse_train_config(p.ini(), "a.ini");
  CHECK(measured.cudnn_algorithms == ConvAlgorithmChoice::kMeasured);
  CHECK(config_text(measured).find("cudnn_algorithms") == std::string::npos);
  const TrainConfig reproducible = parse_train_config(p.ini(), "b.ini", {"run.cudnn_algorithms=reproducible"});
  CHECK(reproducible.cudnn_algorithms == ConvAlgorithmChoice::kReproducible);
  CHECK(config_text(reproducible).find("run.cudnn_algorithms = reproducible\n") != std::string::npos);
  CHECK(config_hash(reproducible) == config_hash(measured));
  expect_error([&] { parse_train_config(p.ini(), "c.ini", {"run.cudnn_algorithms=benchmark"}); },
               {"run.cudnn_algorithms", "'benchmark'", "measured or reproducible"});
}

TEST_CASE("train config: the hash ignores where a run goes and what runs it, not what it does") {
  Paths p;
  const std::string h = config_hash(parse_train_config(p.ini(), "a.ini"));
  CHECK(h.size() == 16);
  CHECK(config_hash(parse_train_config(p.ini(), "b.ini", {"run.device=cuda", "run.workers=9", "run.output=x",
                                                          "run.log_every=50", "train.max_nonfinite_steps=2"})) == h);
  CHECK(config_hash(parse_train_config(p.ini(), "c.ini", {"optimizer.lr=0.001"})) != h);
  CHECK(config_hash(parse_train_config(p.ini(), "d.ini", {"augment.hflip.p=0"})) != h);
  CHECK(config_text(parse_train_config(p.ini(), "e.ini")).find("optimizer = adam lr 0.0001 weight_decay 5e-06") !=
        std::string::npos);
}
