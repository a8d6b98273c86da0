// The gradient all-reduce of data-parallel training (train/data_parallel.h's GradientReducer, 25 MB buckets)
// for each model's gradients, timed under mpirun on the ranks it was started with, against the copy
// bandwidth of the same bytes measured in the same run (memcpy on rank 0, interleaved with the reductions).
// Prints, per model: gradient bytes, median and range of the reduction, algorithm bandwidth (bytes / time),
// bus bandwidth (x 2(N-1)/N, what a ring moves per rank) and its ratio to the copy bandwidth.
// With --step S: one training step of each model at S x S, batch 1 per rank (forward, the combo loss of
// the whole step's batch, backward, the gradient sum; no optimizer), the sum taken after backward
// (GradientReducer::all_reduce) or overlapped with it (begin_overlap / finish), the two interleaved
// (ABBA...); per way: the step's median and range, and the part left after backward returns.
//   mpirun -np 2 build/bench/bench_allreduce [--reps R] [--model M] [--step S]
// MPI on the CPU (the NCCL communicator sums CUDA tensors, but this program makes CPU gradients).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/communicator.h"
#include "engine/ops/combo_loss.h"
#include "engine/random.h"
#include "models/registry.h"
#include "train/data_parallel.h"

using namespace pleura;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Stats {
  double median, low, high;
};

Stats stats_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

void bench_model(const std::string& name, Communicator& world, int reps) {
  std::shared_ptr<Model> model = make_model(name, 1);
  std::vector<Tensor*> params = model->parameters();
  size_t bytes = 0;
  for (Tensor* p : params) {
    p->impl().grad = Tensor::full(p->shape(), 1e-3 * (world.rank() + 1)).impl_ptr();
    bytes += p->nbytes();
  }
  GradientReducer reducer(params, world);
  std::vector<char> src(bytes, 1), dst(bytes);
  std::vector<double> reduce_s, copy_s;
  reducer.all_reduce();  // warm-up: buffers, connections
  for (int r = 0; r < reps; ++r) {
    world.barrier();
    auto t0 = std::chrono::steady_clock::now();
    reducer.all_reduce();
    reduce_s.push_back(seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    copy_s.push_back(seconds_since(t0));
    src[static_cast<size_t>(r) % bytes] ^= dst[bytes / 2];  // keep the copy observable
  }
  // Every rank's median: the slowest rank sets the step's pace.
  std::vector<double> medians = world.all_gather({stats_of(reduce_s).median});
  if (world.rank() != 0) return;
  const Stats reduce = stats_of(reduce_s), copy = stats_of(copy_s);
  const double slowest = *std::max_element(medians.begin(), medians.end());
  const int n = world.size();
  const double algbw = bytes / reduce.median / 1e9, busbw = algbw * 2.0 * (n - 1) / n;
  const double copybw = bytes / copy.median / 1e9;
  std::printf("%-14s %2zu buckets %8.1f MB  all-reduce median %8.2f ms (%.2f-%.2f, slowest rank %.2f)  "
              "algbw %6.2f GB/s  busbw %6.2f GB/s  copy %6.2f GB/s  busbw/copy %.3f\n",
              name.c_str(), reducer.buckets().size(), bytes / 1e6, reduce.median * 1e3, reduce.low * 1e3,
              reduce.high * 1e3, slowest * 1e3, algbw, busbw, copybw, busbw / copybw);
}

// One step of `model` (see the file's comment); its time and the time after backward returned.
struct StepTime {
  double step, after_backward;
};

StepTime time_step(Model& model, GradientReducer& reducer, const Tensor& images, const Tensor& masks,
                   Communicator& world, bool overlap) {
  model.zero_grad();
  ComboLossParams loss_params;
  loss_params.group = &world;
  world.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  Tensor loss = combo_loss(model.forward(images), masks, loss_params);
  if (overlap) reducer.begin_overlap();
  loss.backward();
  const auto t1 = std::chrono::steady_clock::now();
  if (overlap) {
    reducer.finish();
  } else {
    reducer.all_reduce();
  }
  return {seconds_since(t0), seconds_since(t1)};
}

void bench_step(const std::string& name, Communicator& world, int reps, int64_t size) {
  std::shared_ptr<Model> model = make_model(name, 1);
  model->train(true);
  Rng rng(1000 + static_cast<uint64_t>(world.rank()));
  const Tensor images = randn(Shape{1, 3, size, size}, rng);
  const Tensor masks = rand_uniform(Shape{1, 1, size, size}, rng, 0.0, 1.0);
  GradientReducer reducer(model->parameters(), world);
  time_step(*model, reducer, images, masks, world, false);  // warm-up: allocations, connections
  time_step(*model, reducer, images, masks, world, true);
  std::vector<double> step[2], tail[2];
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < 2; ++i) {
      const bool overlap = (r % 2 == 0) == (i == 1);  // ABBA: neither way always goes first
      const StepTime t = time_step(*model, reducer, images, masks, world, overlap);
      step[overlap].push_back(t.step);
      tail[overlap].push_back(t.after_backward);
    }
  }
  // The step ends on every rank together (the sums): rank 0's times stand for the job.
  if (world.rank() != 0) return;
  for (int overlap : {0, 1}) {
    const Stats s = stats_of(step[overlap]), t = stats_of(tail[overlap]);
    std::printf("%-14s %lldx%lld batch 1/rank, %2zu buckets, sum %-15s step median %8.1f ms (%.1f-%.1f)  "
                "after backward %7.1f ms (%.1f-%.1f)\n",
                name.c_str(), static_cast<long long>(size), static_cast<long long>(size), reducer.buckets().size(),
                overlap ? "during backward" : "after backward", s.median * 1e3, s.low * 1e3, s.high * 1e3,
                t.median * 1e3, t.low * 1e3, t.high * 1e3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 10;
  int64_t step_size = 0;  // --step: time training steps at this size instead of the sums alone
  std::vector<std::string> models = {"albunet", "resnet50_unet", "scse_unet"};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--reps") reps = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--model") models = {argv[i + 1]};
    if (std::string(argv[i]) == "--step") step_size = std::max(32, std::atoi(argv[i + 1]));
  }
  try {
    DistributedSession session;
    Communicator& world = session.world();
    if (world.size() < 2) {
      std::fprintf(stderr, "bench_allreduce: start it with mpirun -np N (N >= 2): %s\n", world.describe().c_str());
      return 1;
    }
    if (world.rank() == 0) std::printf("bench_allreduce: %s, %d repetitions, float32 gradients\n",
                                        world.describe().c_str(), reps);
    for (const std::string& m : models) {
      if (step_size > 0) {
        bench_step(m, world, reps, step_size);
      } else {
        bench_model(m, world, reps);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_allreduce: error: %s\n", e.what());
    return 1;
  }
}
