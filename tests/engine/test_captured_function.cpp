// Tests of CapturedFunction (engine/captured_function.h) and the CUDA graph capture behind it
// (cuda/graph.cu): on the CPU every call runs the function; on a GPU the first call of a signature is a
// warm-up, the second captures and replays, later calls replay, each giving the bits of a plain call; a
// function that reads device values on the host is never captured; each input shape has its own graph.
// The allocator's private pool of a capture is tested on the host in tests/engine/test_block_pool.cpp.
#include "engine/captured_function.h"

#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/counters.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"
#include "tests/testing.h"

using namespace pleura;
using testing::random_tensor;

namespace {

// A small network of fixed weights: conv 3x3 + ReLU, conv 1x1, sigmoid; and relu(x) as a second output.
struct TinyNet {
  Tensor w1, b1, w2;
  explicit TinyNet(Device device)
      : w1(random_tensor({8, 3, 3, 3}, 301, DType::kFloat32).to(device)),
        b1(random_tensor({8}, 302, DType::kFloat32).to(device)),
        w2(random_tensor({1, 8, 1, 1}, 303, DType::kFloat32).to(device)) {}
  std::vector<Tensor> operator()(const std::vector<Tensor>& in) const {
    NoGradGuard no_grad;
    const Tensor h = relu(conv2d(in[0], w1, b1, {.pad_h = 1, .pad_w = 1}));
    return {sigmoid(conv2d(h, w2, Tensor(), {})), relu(in[0])};
  }
};

}  // namespace

TEST_CASE("captured function: on the CPU every call runs the function") {
  const TinyNet net(Device::cpu());
  int calls = 0;
  CapturedFunction f([&](const std::vector<Tensor>& in) {
    ++calls;
    return net(in);
  });
  for (uint64_t seed : {311, 312, 313}) {
    const Tensor x = random_tensor({2, 3, 9, 7}, seed, DType::kFloat32);
    const std::vector<Tensor> got = f({x}), want = net({x});
    REQUIRE(got.size() == 2);
    CHECK(got[0].to_vector() == want[0].to_vector());
    CHECK(got[1].to_vector() == want[1].to_vector());
  }
  CHECK(calls == 3);
  CHECK(f.replays() == 0);
  CHECK(f.graphs() == 0);
}

TEST_CASE("captured function: bad input") {
  CapturedFunction f([](const std::vector<Tensor>& in) { return in; });
  testing::expect_error([&] { f({}); }, {"[captured function]", "no input"});
}

TEST_CASE("captured function: on a GPU, replays give the bits of plain calls" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Device gpu = Device::cuda();
  const TinyNet net(gpu);
  std::vector<std::string> notes;
  CapturedFunction f(net, [&](const std::string& n) { notes.push_back(n); });
  int call = 0;
  for (uint64_t seed : {321, 322, 323, 324}) {
    CAPTURE(call);
    const Tensor x = random_tensor({2, 3, 17, 13}, seed, DType::kFloat32).to(gpu);
    const EngineCounters before = engine_counters();
    const std::vector<Tensor> got = f({x});
    const EngineCounters d = counters_between(before, engine_counters());
    const std::vector<Tensor> want = net({x});
    REQUIRE(got.size() == 2);
    CHECK(got[0].to_vector() == want[0].to_vector());
    CHECK(got[1].to_vector() == want[1].to_vector());
    // Call 0 warms up, call 1 captures and replays, calls 2 and 3 replay: one graph launch each.
    CHECK(d.graph_launches == (call == 0 ? 0 : 1));
    if (call >= 2) CHECK(d.kernel_launches + d.library_calls == 0);
    ++call;
  }
  CHECK(f.replays() == 3);
  CHECK(f.graphs() == 1);
  CHECK(notes.empty());
  // Another shape gets a graph of its own; the first one still replays right.
  for (int k = 0; k < 3; ++k) {
    const Tensor y = random_tensor({1, 3, 8, 8}, 330 + k, DType::kFloat32).to(gpu);
    CHECK(f({y})[0].to_vector() == net({y})[0].to_vector());
  }
  CHECK(f.graphs() == 2);
  const Tensor x = random_tensor({2, 3, 17, 13}, 340, DType::kFloat32).to(gpu);
  CHECK(f({x})[0].to_vector() == net({x})[0].to_vector());
}

TEST_CASE("captured function: a function that reads device values on the host runs as it is" *
          doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  const Device gpu = Device::cuda();
  std::vector<std::string> notes;
  CapturedFunction f(
      [](const std::vector<Tensor>& in) {
        NoGradGuard no_grad;
        const Tensor r = relu(in[0]);
        const double first = r.to_vector().front();  // a host read: no capture can hold it
        return std::vector<Tensor>{Tensor::full(r.shape(), first, DType::kFloat32, r.device())};
      },
      [&](const std::string& n) { notes.push_back(n); });
  for (uint64_t seed : {351, 352, 353}) {
    const Tensor x = random_tensor({1, 1, 4, 4}, seed, DType::kFloat32, 0.5, 1.5).to(gpu);
    const double want = x.to_vector().front();
    CHECK(f({x})[0].to_vector().back() == want);
  }
  CHECK(f.replays() == 0);
  CHECK(f.graphs() == 0);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("read device values on the host") != std::string::npos);
}
