// The tools on CUDA against the CPU (gpu suite; skipped without a device): train_unet one epoch at 64x64
// from the same seed on both devices, and infer_unet of one checkpoint on both devices; train_unet on
// CUDA with and without [run] cuda_graphs (the same kernels in the same order: the same bits). The test runner
// sets strict FP32, so the differences are rounding only; Adam's first steps move each weight by about
// lr * sign(gradient), so a weight whose gradient is at rounding level may move the other way on the GPU:
// the training check bounds the share of weights that differ, not every weight.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "engine/file_io.h"
#include "engine/safetensors.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/infer/infer_testing.h"
#include "tests/train/train_testing.h"
#include "tests/tools/tools_testing.h"
#include "train/train_log.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::testing;

namespace {

std::map<std::string, std::vector<double>> weights_of(const std::string& path) {
  std::map<std::string, std::vector<double>> w;
  for (NamedTensor& n : read_safetensors(path)) w[n.name] = n.tensor.to_vector();
  return w;
}

// A tiny cache of `images` 64x64 images in t, and its training INI (tiny_train_ini).
struct TinySetup {
  TinyCache cache;
  std::string ini;
};
TinySetup tiny_setup(const TempDir& t, int images) {
  TinySetup s{make_tiny_cache(t.file("cache"), images, 64, 3), t.file("tiny.ini")};
  write_file_atomic(s.ini, tiny_train_ini(s.cache, t.file("unused")));
  return s;
}

// train_unet on `ini` with these "section.key=value" overrides; the run must succeed.
void train_tiny(const std::string& ini, const std::vector<std::string>& overrides) {
  std::vector<std::string> args = {ini};
  for (const std::string& o : overrides) {
    args.push_back("--set");
    args.push_back(o);
  }
  const ToolRun r = run_tool(tools::train_unet_tool(), args);
  REQUIRE_MESSAGE(r.code == 0, r.err);
}

}  // namespace

TEST_CASE("train_unet and infer_unet: CUDA runs end close to CPU runs" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  TempDir t;
  const TinySetup setup = tiny_setup(t, 12);
  const TinyCache& cache = setup.cache;
  for (const std::string device : {"cpu", "cuda"})
    train_tiny(setup.ini, {"train.epochs=1", "run.device=" + device, "run.output=" + t.file(device)});

  const std::string last = "/checkpoints/fold0/tiny_fold0_last.safetensors";
  const auto w_cpu = weights_of(t.file("cpu") + last), w_gpu = weights_of(t.file("cuda") + last);
  REQUIRE(w_cpu.size() == w_gpu.size());
  size_t total = 0, off = 0;
  for (const auto& [name, a] : w_cpu) {
    CAPTURE(name);
    REQUIRE(w_gpu.count(name) == 1);
    const std::vector<double>& b = w_gpu.at(name);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      REQUIRE(std::isfinite(b[i]));
      ++total;
      // num_batches_tracked is an integer count; running statistics and weights are compared alike.
      if (std::fabs(a[i] - b[i]) > 1e-5 * std::max(1.0, std::fabs(a[i]))) ++off;
    }
  }
  MESSAGE("weights differing by more than 1e-5: ", off, " of ", total);
  CHECK(static_cast<double>(off) <= 0.01 * static_cast<double>(total));
  const CsvLog m_cpu = metrics_csv(t.file("cpu/checkpoints/fold0/metrics.csv"));
  const CsvLog m_gpu = metrics_csv(t.file("cuda/checkpoints/fold0/metrics.csv"));
  CHECK(std::stod(m_gpu.column("train_loss")[0]) == doctest::Approx(std::stod(m_cpu.column("train_loss")[0])).epsilon(1e-4));

  // infer_unet of the CPU run's checkpoint on both devices, with flip: maps within 1e-5.
  auto infer = [&](const std::string& device) {
    const ToolRun r = run_tool(tools::infer_unet_tool(),
                               {"--model", "albunet", "--weights", t.file("cpu") + last, "--input", cache.dir, "--output",
                                t.file("maps-" + device), "--size", "64", "--flip", "--device", device, "--batch", "3"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
  };
  infer("cpu");
  infer("cuda");
  for (const std::string& id : cache.ids) {
    CAPTURE(id);
    const Tensor a = read_map_npy(t.file("maps-cpu/" + id + ".npy"));
    const Tensor b = read_map_npy(t.file("maps-cuda/" + id + ".npy"));
    CHECK(max_rel_error(b, a, 1e-5) <= 1e-4);
  }
}

TEST_CASE("train_unet: [run] cuda_graphs replays the batches and ends with the same bits" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  TempDir t;
  const TinySetup setup = tiny_setup(t, 16);
  // Reproducible cuDNN algorithms: the measured ones may sum with atomics, in another order each run.
  train_tiny(setup.ini, {"run.device=cuda", "run.output=" + t.file("plain"), "run.cudnn_algorithms=reproducible"});
  train_tiny(setup.ini, {"run.device=cuda", "run.output=" + t.file("graphs"), "run.cuda_graphs=true",
                         "run.cudnn_algorithms=reproducible"});
  const std::string last = "/checkpoints/fold0/tiny_fold0_last.safetensors";
  const auto plain = weights_of(t.file("plain") + last), graphs = weights_of(t.file("graphs") + last);
  REQUIRE(plain.size() == graphs.size());
  for (const auto& [name, values] : plain) {
    CAPTURE(name);
    CHECK(graphs.at(name) == values);  // num_batches_tracked included: advanced on the host per replay
  }
  // Two epochs: each replays its batches after the first two (one plain, one captured and replayed).
  const std::string log = read_file(t.file("graphs/log/train_fold0.log"));
  CHECK(log.find("batches ran as a replayed CUDA graph") != std::string::npos);
  CHECK(log.find(": 0 of") == std::string::npos);
  CHECK(log.find("CUDA graph not used") == std::string::npos);
}
