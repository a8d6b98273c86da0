// Tests of tools/infer_unet through the runner (tools/infer_unet.cpp, tools/runner.h): tiny end-to-end runs
// on the CPU (AlbuNet at 64x64, checkpoints saved from models made here) whose maps must equal the direct
// computation of tests/infer/infer_testing.cpp bit for bit (npy) or its quantisation (png), on PNGs, a
// DICOM tree (INI mode) and a train_unet-style pipeline folder; --resume, also after a SIGTERM; and every
// error path.
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/file_io.h"
#include "layers/state_dict.h"
#include "engine/precision.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/infer/infer_testing.h"
#include "tests/eval/eval_testing.h"
#include "tests/tools/tools_testing.h"
#include "engine/fast_convolutions.h"
#include "data/image_io.h"
#include "infer/infer_run.h"
#include "infer/prob_map.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::testing;

namespace {

ToolRun run(const std::vector<std::string>& args) { return run_tool(tools::infer_unet_tool(), args); }

// Two checkpoints (seeds 1 and 2) and the models they hold.
struct Checkpoints {
  TempDir dir;
  std::string w1 = dir.file("w1.safetensors"), w2 = dir.file("w2.safetensors");
  std::vector<std::shared_ptr<Model>> models{save_test_albunet(w1, 1), save_test_albunet(w2, 2)};
};

// Every map of `out` equals the direct computation (npy: the same bits; png: floor(p*255 + 0.5)).
void check_maps(const std::string& out, const std::vector<TestImage>& images,
                const std::vector<std::shared_ptr<Model>>& models, bool flip, infer::MapFormat format) {
  CHECK(infer::existing_map_ids(out).size() == images.size());
  for (const TestImage& image : images) {
    CAPTURE(image.image_id);
    const Tensor want = expected_map(models, image.pixels, 64, flip, augment::Normalization::kUnit);
    if (format == infer::MapFormat::kNpy) {
      const Tensor got = read_map_npy(out + "/" + image.image_id + ".npy");
      REQUIRE(got.shape() == Shape({64, 64}));
      CHECK(std::memcmp(got.data<float>(), want.data<float>(), 64 * 64 * 4) == 0);
    } else {
      const GrayImage got = data::read_image_gray(out + "/" + image.image_id + ".png");
      REQUIRE(got.height == 64);
      REQUIRE(got.width == 64);
      int bad = 0;
      for (int64_t k = 0; k < 64 * 64; ++k) {
        const double v = std::floor(static_cast<double>(want.data<float>()[k]) * 255.0 + 0.5);
        bad += got.pixels[static_cast<size_t>(k)] != static_cast<uint8_t>(v);
      }
      CHECK(bad == 0);
    }
  }
  CHECK(temporaries_in(out).empty());
}

}  // namespace

TEST_CASE("infer_unet: PNG inputs, 2 checkpoints, flip: npy maps equal the direct computation, png maps its quantisation") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  ToolRun r = run({"--model", "albunet", "--weights", c.w1 + "," + c.w2, "--input", c.dir.file("png"), "--output",
                   c.dir.file("out_npy"), "--size", "64", "--flip", "--batch", "1", "--workers", "2"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  check_maps(c.dir.file("out_npy"), images, c.models, true, infer::MapFormat::kNpy);
  CHECK(r.out.find("infer_unet: 3 maps written to " + c.dir.file("out_npy") + ": albunet 64x64, 2 checkpoint(s), flip, "
                   "npy, cpu; loading ") == 0);
  CHECK(r.out.find(" s/image)") != std::string::npos);
  // The checkpoint list is logged in averaging order.
  CHECK(r.err.find("  " + c.w1 + "\n  " + c.w2 + "\n") != std::string::npos);
  const std::string settings = read_file(c.dir.file("out_npy/infer_settings.txt"));
  CHECK(settings.find("checkpoint = " + c.w1 + "\ncheckpoint = " + c.w2 + "\n") != std::string::npos);
  CHECK(settings.find("flip = true\n") != std::string::npos);

  // png, batches of two (the last one short), no flip.
  r = run({"--model", "albunet", "--weights", c.w1, "--weights", c.w2, "--input", c.dir.file("png"), "--output",
           c.dir.file("out_png"), "--size", "64", "--batch", "2", "--format", "png"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  check_maps(c.dir.file("out_png"), images, c.models, false, infer::MapFormat::kPng);
}

TEST_CASE("infer_unet: --precision bf16 computes the maps in bf16, records it, and refuses other values") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  const ToolRun r = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output",
                         c.dir.file("out"), "--size", "64", "--precision", "bf16"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.find("checkpoint(s) of albunet on cpu in bf16:") != std::string::npos);
  CHECK(read_file(c.dir.file("out/infer_settings.txt")).find("precision = bf16\n") != std::string::npos);
  {
    const PrecisionScope bf16(Precision::kBFloat16);  // the direct computation under the same policy
    check_maps(c.dir.file("out"), images, {c.models[0]}, false, infer::MapFormat::kNpy);
  }
  // Not the fp32 maps.
  const Tensor fp32 = expected_map({c.models[0]}, images[0].pixels, 64, false, augment::Normalization::kUnit);
  const Tensor got = read_map_npy(c.dir.file("out") + "/" + images[0].image_id + ".npy");
  CHECK(std::memcmp(got.data<float>(), fp32.data<float>(), 64 * 64 * 4) != 0);
  const ToolRun bad = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output",
                           c.dir.file("out2"), "--size", "64", "--precision", "fp16"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--precision: precision 'fp16' is not fp32 or bf16") != std::string::npos);
  const ToolRun bad_choice = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output",
                                  c.dir.file("out3"), "--size", "64", "--cudnn-algorithms", "benchmark"});
  CHECK(bad_choice.code == 2);
  CHECK(bad_choice.err.find("--cudnn-algorithms: cuDNN algorithm choice 'benchmark' is not measured or "
                            "reproducible") != std::string::npos);
}

TEST_CASE("infer_unet: --exact-convolutions keeps every convolution exact, records it, and INI mode has it too") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  const ToolRun r = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output",
                         c.dir.file("out"), "--size", "64", "--exact-convolutions"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.find("Winograd") == std::string::npos);
  CHECK(read_file(c.dir.file("out/infer_settings.txt")).find("exact_convolutions = true\n") != std::string::npos);
  const Tensor got = read_map_npy(c.dir.file("out") + "/" + images[0].image_id + ".npy");
  const Tensor exact = expected_map({c.models[0]}, images[0].pixels, 64, false, augment::Normalization::kUnit, true);
  CHECK(std::memcmp(got.data<float>(), exact.data<float>(), 64 * 64 * 4) == 0);
  // The default (Winograd F(4x4,3x3)) maps differ from the exact ones, by rounding only.
  const Tensor fast = expected_map({c.models[0]}, images[0].pixels, 64, false, augment::Normalization::kUnit);
  if (fast_inference_convolutions_run_on(Device::cpu())) CHECK(max_abs_diff(fast, exact) > 0);
  CHECK(max_abs_diff(fast, exact) < 1e-4);
  // A folder of exact maps does not resume without the flag (other settings).
  const ToolRun resumed = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output",
                               c.dir.file("out"), "--size", "64", "--resume"});
  CHECK(resumed.code != 0);
  const std::string ini = c.dir.file("infer.ini");
  std::ofstream(ini) << "[run]\nexact_convolutions = true\nworkers = 1\n[data]\ninput = " << c.dir.file("png")
                     << "\nsize = 64\n[model]\nname = albunet\n[checkpoints]\nweights = " << c.w1
                     << "\n[output]\ndir = " << c.dir.file("out_ini") << "\n";
  const ToolRun from_ini = run({ini});
  REQUIRE_MESSAGE(from_ini.code == 0, from_ini.err);
  // Without the setting, the log says which convolutions ran (where this CPU takes the Winograd kernels).
  const ToolRun fast_run = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output",
                                c.dir.file("out_fast"), "--size", "64"});
  REQUIRE_MESSAGE(fast_run.code == 0, fast_run.err);
  CHECK((fast_run.err.find("3x3 convolutions by Winograd F(4x4,3x3)") != std::string::npos) ==
        fast_inference_convolutions_run_on(Device::cpu()));
  const Tensor got_ini = read_map_npy(c.dir.file("out_ini") + "/" + images[0].image_id + ".npy");
  CHECK(std::memcmp(got_ini.data<float>(), exact.data<float>(), 64 * 64 * 4) == 0);
}

TEST_CASE("infer_unet: a DICOM tree in INI mode with --set overrides") {
  Checkpoints c;
  const std::vector<TestImage> dicoms = write_dicom_inputs(c.dir.file("dicom"));
  const std::string ini = c.dir.file("infer.ini");
  std::ofstream(ini) << "[run]\nbatch_size = 2\nworkers = 1\n[data]\ninput = " << c.dir.file("dicom")
                     << "\nsize = 128\n[model]\nname = albunet\n[checkpoints]\nweights = " << c.w2 << ", " << c.w1
                     << "\n[tta]\nflip = true\n[output]\ndir = " << c.dir.file("out") << "\nformat = png\n";
  const ToolRun r = run({ini, "--set", "data.size=64", "--set=output.format=npy"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("2 maps written") != std::string::npos);
  const ToolRun bad = run({ini, "--set", "data.size=64", "--set", "run.precision=half"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("[run] precision: precision 'half' is not fp32 or bf16") != std::string::npos);
  // Listed as w2, w1: the running mean of two is symmetric up to rounding, so compare in that order.
  check_maps(c.dir.file("out"), dicoms, {c.models[1], c.models[0]}, true, infer::MapFormat::kNpy);
}

TEST_CASE("infer_unet: a pipeline folder: top-k from summary.csv, best, listed epochs") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  // Fold 0 kept epochs 2 (w2, 0.9), 5 (w1, 0.8) and 1 (seed 3, 0.7); epoch 3 (0.95) was removed.
  const std::string run_dir = c.dir.file("exp"), hist = run_dir + "/checkpoints/fold0";
  fs::create_directories(hist);
  fs::copy_file(c.w2, hist + "/albunet_1024_fold0_epoch2.safetensors");
  fs::copy_file(c.w1, hist + "/albunet_1024_fold0_epoch5.safetensors");
  const std::shared_ptr<Model> third = save_test_albunet(hist + "/albunet_1024_fold0_epoch1.safetensors", 3);
  fs::copy_file(c.w1, run_dir + "/checkpoints/albunet_1024_fold0.safetensors");
  std::ofstream(hist + "/summary.csv") << "epoch,best_metric,\"(0.75, 1000, 0.3)\"\n0,0.5,0.5\n1,0.7,0.7\n2,0.9,0.9\n"
                                          "3,0.95,0.95\n4,0.6,0.6\n5,0.8,0.8\n";
  const std::vector<std::string> common = {"--model", "albunet", "--input", c.dir.file("png"), "--size", "64",
                                           "--pipeline", run_dir, "--pipeline-name", "albunet_1024"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = common;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ToolRun r = run(with({"--top-k", "2", "--folds", "0", "--output", c.dir.file("topk")}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.err.find("  " + hist + "/albunet_1024_fold0_epoch2.safetensors\n  " + hist +
                   "/albunet_1024_fold0_epoch5.safetensors\n") != std::string::npos);
  check_maps(c.dir.file("topk"), images, {c.models[1], c.models[0]}, false, infer::MapFormat::kNpy);

  r = run(with({"--best", "--folds", "0", "--output", c.dir.file("best")}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  check_maps(c.dir.file("best"), images, {c.models[0]}, false, infer::MapFormat::kNpy);

  r = run(with({"--epochs", "0:1,5", "--output", c.dir.file("epochs"), "--flip"}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  third->eval();
  check_maps(c.dir.file("epochs"), images, {third, c.models[0]}, true, infer::MapFormat::kNpy);

  r = run(with({"--top-k", "4", "--folds", "0", "--output", c.dir.file("topk4")}));
  CHECK(r.code == 1);
  CHECK(r.err.find("fold 0: --top-k 4 needs 4 epoch checkpoints") != std::string::npos);
  CHECK(infer::existing_map_ids(c.dir.file("topk4")).empty());
  r = run(with({"--epochs", "0:3", "--output", c.dir.file("e3")}));
  CHECK(r.code == 1);
  CHECK(r.err.find("fold 0, epoch 3: the checkpoint " + hist + "/albunet_1024_fold0_epoch3.safetensors does not exist") !=
        std::string::npos);
}

TEST_CASE("infer_unet: --resume continues an interrupted run and refuses other settings") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  const std::string out = c.dir.file("out");
  const std::vector<std::string> args = {"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"),
                                         "--output", out, "--size", "64"};
  ToolRun r = run(args);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // A killed run: one map missing, a temporary left behind.
  fs::remove(out + "/img_b.npy");
  std::ofstream(out + "/img_b.npy.tmp.4242") << "partial";
  r = run(args);
  CHECK(r.code == 1);
  CHECK(r.err.find("already holds 2 map(s) and infer_settings.txt from an earlier run") != std::string::npos);
  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  r = run(resume);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("infer_unet: 1 maps written to " + out + " (2 already there)") == 0);
  check_maps(out, images, {c.models[0]}, false, infer::MapFormat::kNpy);
  std::vector<std::string> other = resume;
  other.push_back("--flip");
  r = run(other);
  CHECK(r.code == 1);
  CHECK(r.err.find("--resume: " + out + "/infer_settings.txt records other settings (it has 'flip = false', this run "
                   "'flip = true')") != std::string::npos);
  // A folder of maps not written by infer_unet.
  fs::create_directories(c.dir.file("foreign"));
  std::ofstream(c.dir.file("foreign/x.png")) << "x";
  std::vector<std::string> foreign = {"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"),
                                      "--output", c.dir.file("foreign"), "--size", "64", "--resume"};
  r = run(foreign);
  CHECK(r.code == 1);
  CHECK(r.err.find("holds 1 map(s) but no infer_settings.txt") != std::string::npos);
}

TEST_CASE("infer_unet: a run that failed before its first map leaves a folder that a rerun takes, with any settings") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  std::ofstream(c.dir.file("png/a_broken.png")) << "not a png at all";  // sorts first: the first batch fails
  for (const bool resume : {false, true}) {
    CAPTURE(resume);
    const std::string out = c.dir.file(resume ? "out_resume" : "out");
    std::vector<std::string> args = {"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"),
                                     "--output", out, "--size", "64", "--batch", "2"};
    const ToolRun failed = run(args);
    CHECK(failed.code == 1);
    CHECK(failed.err.find("a_broken.png") != std::string::npos);
    REQUIRE(fs::exists(out + "/infer_settings.txt"));  // the record of a run that wrote no map
    CHECK(infer::existing_map_ids(out).empty());
    fs::rename(c.dir.file("png/a_broken.png"), c.dir.file("a_broken.png"));
    args.push_back("--flip");  // other settings than the record's
    if (resume) args.push_back("--resume");
    const ToolRun again = run(args);
    REQUIRE_MESSAGE(again.code == 0, again.err);
    check_maps(out, images, {c.models[0]}, true, infer::MapFormat::kNpy);
    CHECK(read_file(out + "/infer_settings.txt").find("flip = true") != std::string::npos);
    fs::rename(c.dir.file("a_broken.png"), c.dir.file("png/a_broken.png"));
  }
}

TEST_CASE("infer_unet: SIGTERM stops it between batches (exit 143); --resume continues") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  const std::string out = c.dir.file("out");
  const std::vector<std::string> args = {"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"),
                                         "--output", out, "--size", "64", "--batch", "1", "--resume"};
  // The signal comes as the first batch is counted done: its map stands, no other batch starts.
  const ToolRun stopped = run_tool_raising(tools::infer_unet_tool(), args, "infer_unet: 1/3", SIGTERM);
  CHECK(stopped.code == 143);
  CHECK(stopped.err.find("infer_unet: stopped by signal 15 (SIGTERM); the maps written so far are complete, "
                         "--resume continues\n") != std::string::npos);
  CHECK(infer::existing_map_ids(out).size() == 1);
  const ToolRun resumed = run(args);
  REQUIRE_MESSAGE(resumed.code == 0, resumed.err);
  CHECK(resumed.out.find("infer_unet: 2 maps written to " + out + " (1 already there)") == 0);
  check_maps(out, images, {c.models[0]}, false, infer::MapFormat::kNpy);
}

TEST_CASE("infer_unet: failures name the file, exit 1, and leave only complete maps") {
  Checkpoints c;
  const std::vector<TestImage> images = write_png_inputs(c.dir.file("png"));
  // An unreadable image that sorts last: the three before it are written, whole, before the failure.
  std::ofstream(c.dir.file("png/zz_broken.png")) << "not a png at all";
  ToolRun r = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output",
                   c.dir.file("out"), "--size", "64", "--batch", "1"});
  CHECK(r.code == 1);
  CHECK(r.err.find("infer_unet: error: ") != std::string::npos);
  CHECK(r.err.find("zz_broken.png") != std::string::npos);
  check_maps(c.dir.file("out"), images, {c.models[0]}, false, infer::MapFormat::kNpy);
  fs::remove(c.dir.file("png/zz_broken.png"));

  // Weights of another model: the strict loader's message, naming the file; nothing written.
  Tensor t = Tensor::zeros({3});
  save_state_dict(c.dir.file("other.safetensors"), {{"head.weight", &t}});
  r = run({"--model", "albunet", "--weights", c.w1 + "," + c.dir.file("other.safetensors"), "--input",
           c.dir.file("png"), "--output", c.dir.file("o2"), "--size", "64"});
  CHECK(r.code == 1);
  CHECK(r.err.find("[load_state_dict] " + c.dir.file("other.safetensors") + " does not match the model") !=
        std::string::npos);
  CHECK(infer::existing_map_ids(c.dir.file("o2")).empty());
  CHECK(!fs::exists(c.dir.file("o2/infer_settings.txt")));

  // An AlbuNet checkpoint read as a ResNet50-UNet.
  r = run({"--model", "resnet50_unet", "--weights", c.w1, "--input", c.dir.file("png"), "--output", c.dir.file("o3"),
           "--size", "64"});
  CHECK(r.code == 1);
  CHECK(r.err.find("does not match the model") != std::string::npos);

  // No image in the input folder.
  fs::create_directories(c.dir.file("empty"));
  r = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("empty"), "--output", c.dir.file("o4"),
           "--size", "64"});
  CHECK(r.code == 1);
  CHECK(r.err.find("no .dcm, .png, .jpg or .jpeg file under") != std::string::npos);

  // CUDA where there is none (or a CUDA build on a machine without a GPU).
  if (!cuda::built() || cuda::device_count() == 0) {
    r = run({"--model", "albunet", "--weights", c.w1, "--input", c.dir.file("png"), "--output", c.dir.file("o5"),
             "--size", "64", "--device", "cuda"});
    CHECK(r.code == 1);
    CHECK((r.err.find("built without CUDA") != std::string::npos ||
           r.err.find("no CUDA device available") != std::string::npos));
  }

  // INI mode: an unknown key names file:line; a missing weights file names it.
  const std::string ini = c.dir.file("bad.ini");
  std::ofstream(ini) << "[data]\ninput = " << c.dir.file("png") << "\nsize = 64\nflip = true\n[model]\nname = albunet\n"
                     << "[checkpoints]\nweights = " << c.dir.file("absent.safetensors") << "\n[output]\ndir = "
                     << c.dir.file("o6") << "\n";
  r = run({ini});
  CHECK(r.code == 1);
  CHECK(r.err.find(ini + ":4: unknown key [data] flip") != std::string::npos);
  r = run({ini, "--set", "tta.flip=true", "--set", "data.flip=", "--set", "run.workers=1"});
  CHECK(r.code == 1);  // "data.flip=" is still a key
  std::ofstream(ini) << "[data]\ninput = " << c.dir.file("png") << "\nsize = 64\n[model]\nname = albunet\n"
                     << "[checkpoints]\nweights = " << c.dir.file("absent.safetensors") << "\n[output]\ndir = "
                     << c.dir.file("o6") << "\n";
  r = run({ini});
  CHECK(r.code == 1);
  CHECK(r.err.find("weights file " + c.dir.file("absent.safetensors") + " does not exist") != std::string::npos);
  r = run({c.dir.file("absent.ini")});
  CHECK(r.code == 1);
  CHECK(r.err.find("configuration file '" + c.dir.file("absent.ini") + "' does not exist") != std::string::npos);
  r = run({c.dir.file("png")});  // a folder given as the configuration file
  CHECK(r.code == 1);
  CHECK(r.err.find("configuration file '" + c.dir.file("png") + "' is a folder, expected a file") != std::string::npos);
}

TEST_CASE("infer_unet: usage errors exit 2; --help exits 0") {
  TempDir dir;
  fs::create_directories(dir.file("in"));
  std::ofstream(dir.file("w.safetensors")) << "x";
  const std::vector<std::string> base = {"--model", "albunet", "--input", dir.file("in"), "--output", dir.file("out"),
                                         "--size", "64"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "missing required option --model"},
      {with({"--weights", dir.file("w.safetensors"), "--color"}), "unknown option --color"},
      {with({}), "--weights or --pipeline"},
      {with({"--weights", dir.file("nope.safetensors")}), "nope.safetensors' does not exist"},
      {with({"--weights", dir.file("w.safetensors"), "--size", "64"}), "--size given twice"},
      {{"--model", "albunet", "--input", dir.file("in"), "--output", "o", "--size", "100", "--weights",
        dir.file("w.safetensors")},
       "multiple of 64"},
      {with({"--weights", dir.file("w.safetensors"), "--flip=yes"}), "--flip takes no value"},
      {{dir.file("c.ini"), "--flip"}, "option --flip does not go with CONFIG.ini"},
      {{dir.file("c.ini"), "--set"}, "--set needs a value"},
      {{dir.file("c.ini"), "--set", "size=64"}, "--set 'size=64': expected section.key=value"},
      {{dir.file("c.ini"), "extra.ini"}, "unexpected argument 'extra.ini'"},
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(message);
    const ToolRun r = run(args);
    CHECK(r.code == 2);
    CHECK_MESSAGE(r.err.find(message) != std::string::npos, r.err);
    CHECK(r.err.find("(run infer_unet --help for usage)") != std::string::npos);
  }
  CHECK(!fs::exists(dir.file("out")));
  for (const std::vector<std::string>& help : {std::vector<std::string>{"--help"}, {"config.ini", "-h"}}) {
    const ToolRun r = run(help);
    CHECK(r.code == 0);
    CHECK(r.out.find("usage: infer_unet") == 0);
    CHECK(r.out.find("rle_submit --probs DIR1:W1") != std::string::npos);
    CHECK(r.out.find("CONFIG.ini [--set section.key=value ...]") != std::string::npos);
  }
}
