// Tests of the triplet ops (engine/ops/triplet_mask.h): worked examples, the portable sigmoid's accuracy,
// counts / masks / statistics against brute-force loops, thread-count independence, CPU-vs-CUDA exact
// equality, bad input.
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/parallel.h"
#include "engine/ops/triplet_mask.h"
#include "engine/ops/triplet_mask_math.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

// Probabilities with many exact ties at the thresholds' float32 values, plus 0, 1 and a NaN, so that
// "p > t" versus "p >= t" and double-versus-float comparisons would show.
Tensor tricky_probabilities(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  const double ties[] = {0.3, 0.4, 0.6, 0.75, 0.5};
  for (double& e : v) {
    double r = rng.uniform();
    if (r < 0.1) {
      e = static_cast<float>(ties[rng.below(5)]);  // exactly the float32 threshold
    } else if (r < 0.12) {
      e = std::nextafter(static_cast<float>(0.3), 1.0f);  // one ulp above
    } else if (r < 0.13) {
      e = static_cast<double>(0.3);  // converts to float(0.3) again
    } else {
      e = rng.uniform();
    }
  }
  v[0] = 0.0;
  v[1] = 1.0;
  return Tensor::from_vector(v, s);
}

// The float32 p of pixel i, as the ops define it.
float p_of(const float* x, int64_t i, ScoreKind kind) {
  return kind == ScoreKind::kLogit ? triplet_math::portable_sigmoid(x[i]) : x[i];
}

// Brute force: counts[n][k] by a plain loop.
std::vector<int64_t> naive_counts(const Tensor& scores, const std::vector<double>& thr, ScoreKind kind) {
  const float* x = scores.data<float>();
  int64_t n_images = scores.size(0), hw = scores.size(2) * scores.size(3);
  std::vector<int64_t> out;
  for (int64_t n = 0; n < n_images; ++n)
    for (double t : thr) {
      int64_t c = 0;
      for (int64_t i = 0; i < hw; ++i) c += p_of(x, n * hw + i, kind) > static_cast<float>(t);
      out.push_back(c);
    }
  return out;
}

std::vector<int64_t> as_int64(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  return std::vector<int64_t>(h.data<int64_t>(), h.data<int64_t>() + h.numel());
}

std::vector<uint8_t> as_bytes(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  return std::vector<uint8_t>(h.data<uint8_t>(), h.data<uint8_t>() + h.numel());
}

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

TEST_CASE("triplet_masks: worked example") {
  // Two 2x3 images. Image 0: p = [0.9 0.8 0.5 / 0.35 0.2 0.76]: three pixels > 0.75 (0.9, 0.8, 0.76),
  // five > 0.3. Image 1: p = [0.7 0.65 0.1 / 0.05 0.31 0.0]: none > 0.75, three > 0.3.
  Tensor p = Tensor::from_vector({0.9, 0.8, 0.5, 0.35, 0.2, 0.76, 0.7, 0.65, 0.1, 0.05, 0.31, 0.0}, {2, 1, 2, 3});
  CHECK(as_int64(threshold_counts(p, {0.75, 0.3, 0.75})) == std::vector<int64_t>{3, 5, 3, 0, 3, 0});
  // Triplet A (0.75, 3, 0.3): image 0 has 3 >= 3 pixels above 0.75, its mask is p > 0.3; image 1 is empty.
  // Triplet B (0.6, 2, 0.5): image 0 keeps p > 0.5 (0.9, 0.8, 0.76); image 1 has 2 pixels > 0.6, keeps p > 0.5.
  // Triplet C (0.75, 4, 0.3): image 0 has 3 < 4: empty.
  CHECK(as_int64(triplet_counts(p, {{0.75, 3, 0.3}, {0.6, 2, 0.5}, {0.75, 4, 0.3}})) ==
        std::vector<int64_t>{3, 3, 3, 0, 2, 0});
  Tensor m = triplet_masks(p, {{0.75, 3, 0.3}, {0.6, 2, 0.5}, {0.75, 4, 0.3}});
  CHECK(m.shape() == Shape({2, 3, 2, 3}));
  CHECK(m.dtype() == DType::kUInt8);
  CHECK(as_bytes(m) == std::vector<uint8_t>{1, 1, 1, 1, 0, 1,  // image 0, A
                                            1, 1, 0, 0, 0, 1,  // image 0, B
                                            0, 0, 0, 0, 0, 0,  // image 0, C
                                            0, 0, 0, 0, 0, 0,  // image 1, A
                                            1, 1, 0, 0, 0, 0,  // image 1, B
                                            0, 0, 0, 0, 0, 0});
  // Statistics for thresholds (0.3, 0.75) with truth = first row of each image: image 0 truth pixels
  // 0.9 0.8 0.5 -> 3 above 0.3, 2 above 0.75; image 1 truth 0.7 0.65 0.1 -> 2 above 0.3, none above 0.75.
  Tensor truth = Tensor::from_vector({1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0}, {2, 1, 2, 3}, DType::kUInt8);
  CHECK(as_int64(threshold_statistics(p, &truth, {0.3f, 0.75f})) ==
        std::vector<int64_t>{5, 3, 3, 2, 3, /**/ 3, 0, 2, 0, 3});
}

TEST_CASE("triplet_masks: thresholds compare as float32, strictly greater") {
  // float(0.3) = 0.30000001192...; p = 0.3 stored as float32 is that same value, so p > 0.3 is false, and
  // one ulp above is true. In double, 0.30000001192 > 0.3 would be true.
  float f = static_cast<float>(0.3);
  Tensor p = Tensor::from_vector({f, std::nextafter(f, 1.0f), std::nextafter(f, 0.0f)}, {1, 1, 1, 3});
  CHECK(as_int64(threshold_counts(p, {0.3})) == std::vector<int64_t>{1});
  CHECK(as_bytes(triplet_masks(p, {{0.3, 0, 0.3}})) == std::vector<uint8_t>{0, 1, 0});
  // min_area 0 keeps every image; a NaN probability is never above anything.
  Tensor q = Tensor::from_vector({std::numeric_limits<double>::quiet_NaN(), 0.9}, {1, 1, 1, 2});
  CHECK(as_bytes(triplet_masks(q, {{0.5, 0, 0.5}})) == std::vector<uint8_t>{0, 1});
}

TEST_CASE("triplet_masks: the portable sigmoid is within 2 ulp of the exact one and monotone") {
  // Every 1009th float in [-110, 40] (by bit pattern), against the double sigmoid rounded to float32.
  auto ordinal = [](float v) {
    int32_t i;
    std::memcpy(&i, &v, 4);
    return i < 0 ? -static_cast<int64_t>(i & 0x7fffffff) : static_cast<int64_t>(i);
  };
  auto from_ordinal = [](int64_t o) {
    uint32_t b = o < 0 ? (0x80000000u | static_cast<uint32_t>(-o)) : static_cast<uint32_t>(o);
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  };
  int64_t worst = 0, decreases = 0;
  float prev = 0.0f;
  for (int64_t o = ordinal(-110.0f); o <= ordinal(40.0f); o += 1009) {
    float x = from_ordinal(o);
    double xd = x;
    double exact = xd >= 0 ? 1.0 / (1.0 + std::exp(-xd)) : std::exp(xd) / (1.0 + std::exp(xd));
    float p = triplet_math::portable_sigmoid(x);
    worst = std::max<int64_t>(worst, std::llabs(ordinal(p) - ordinal(static_cast<float>(exact))));
    decreases += p < prev;
    prev = p;
  }
  CHECK(decreases == 0);
  CHECK(worst <= 2);
  CHECK(triplet_math::portable_sigmoid(0.0f) == 0.5f);
  CHECK(triplet_math::portable_sigmoid(200.0f) == 1.0f);
  CHECK(triplet_math::portable_sigmoid(-200.0f) == 0.0f);
  CHECK(triplet_math::portable_sigmoid(-95.0f) > 0.0f);  // subnormal, not flushed
  CHECK(std::isnan(triplet_math::portable_sigmoid(std::numeric_limits<float>::quiet_NaN())));
  // The exp at the heart of it: exactly 1 at 0, within 1 ulp elsewhere (checked through the sigmoid).
  CHECK(bits(triplet_math::exp_nonpositive(0.0f)) == bits(1.0f));
}

TEST_CASE("triplet_masks: counts, masks and statistics equal brute-force loops") {
  std::vector<double> thr = {0.75, 0.3, 0.4, 0.6, 0.5, 0.3, 0.05, 0.95};
  for (ScoreKind kind : {ScoreKind::kProbability, ScoreKind::kLogit}) {
    CAPTURE(static_cast<int>(kind));
    Tensor scores = kind == ScoreKind::kProbability ? tricky_probabilities({3, 1, 37, 45}, 7)
                                                    : random_tensor({3, 1, 37, 45}, 8, DType::kFloat32, -6, 6);
    CHECK(as_int64(threshold_counts(scores, thr, kind)) == naive_counts(scores, thr, kind));

    std::vector<Triplet> triplets = {
        {0.75, 150, 0.3}, {0.75, 400, 0.4}, {0.6, 300, 0.3}, {0.5, 0, 0.5}, {0.95, 90, 0.05}};
    Tensor masks = triplet_masks(scores, triplets, kind);
    std::vector<uint8_t> got = as_bytes(masks), want;
    const float* x = scores.data<float>();
    int64_t hw = 37 * 45;
    for (int64_t n = 0; n < 3; ++n)
      for (const Triplet& t : triplets) {
        int64_t above = 0;
        for (int64_t i = 0; i < hw; ++i) above += p_of(x, n * hw + i, kind) > static_cast<float>(t.top);
        for (int64_t i = 0; i < hw; ++i)
          want.push_back(above >= t.min_area && p_of(x, n * hw + i, kind) > static_cast<float>(t.bottom));
      }
    CHECK(got == want);

    std::vector<float> sorted = {0.05f, 0.3f, 0.4f, 0.5f, 0.6f, 0.75f, 0.95f};
    Tensor truth = random_tensor({3, 1, 37, 45}, 9, DType::kFloat32, -0.5, 1.0);  // non-zero means truth
    std::vector<int64_t> want_stats;
    const float* t = truth.data<float>();
    for (int64_t n = 0; n < 3; ++n) {
      std::vector<int64_t> all(sorted.size()), tru(sorted.size());
      int64_t truth_count = 0;
      for (int64_t i = 0; i < hw; ++i) {
        bool on = t[n * hw + i] != 0.0f;
        truth_count += on;
        for (size_t j = 0; j < sorted.size(); ++j) {
          bool gt = p_of(x, n * hw + i, kind) > sorted[j];
          all[j] += gt;
          tru[j] += gt && on;
        }
      }
      want_stats.insert(want_stats.end(), all.begin(), all.end());
      want_stats.insert(want_stats.end(), tru.begin(), tru.end());
      want_stats.push_back(truth_count);
    }
    CHECK(as_int64(threshold_statistics(scores, &truth, sorted, kind)) == want_stats);
  }
}

TEST_CASE("triplet_masks: results do not depend on the thread count") {
  Tensor scores = tricky_probabilities({2, 1, 300, 301}, 17);  // segments of 65536 pixels split the images
  Tensor truth = random_tensor({2, 1, 300, 301}, 18, DType::kFloat32, 0.0, 1.0);
  std::vector<float> thr = {0.1f, 0.3f, 0.75f};
  int saved = num_threads();
  set_num_threads(1);
  std::vector<int64_t> one = as_int64(threshold_statistics(scores, &truth, thr));
  set_num_threads(3);
  std::vector<int64_t> three = as_int64(threshold_statistics(scores, &truth, thr));
  set_num_threads(saved);
  CHECK(one == three);
}

TEST_CASE("triplet_masks: bad input") {
  Tensor p = Tensor::zeros({2, 1, 4, 4});
  expect_error(
      [&] {
        threshold_counts(Tensor::zeros({2, 3, 4, 4}), {0.5});
      },
      {"[threshold_counts]", "[2, 3, 4, 4]", "[N, 1, H, W]"});
  expect_error([&] { threshold_counts(Tensor::zeros({2, 4, 4}), {0.5}); }, {"[threshold_counts]", "[2, 4, 4]"});
  expect_error(
      [&] {
        threshold_counts(Tensor::zeros({2, 1, 4, 4}, DType::kFloat64), {0.5});
      },
      {"[threshold_counts]", "float64"});
  expect_error([&] { threshold_counts(p, {}); }, {"[threshold_counts]", "no thresholds"});
  expect_error([&] { threshold_counts(p, {0.5, std::nan("")}); }, {"[threshold_counts]", "threshold 1 is NaN"});
  expect_error([&] { triplet_masks(p, {}); }, {"[triplet_masks]", "no triplets"});
  expect_error([&] { triplet_masks(p, {{0.5, -1, 0.3}}); }, {"[triplet_masks]", "min_area -1"});
  expect_error(
      [&] {
        triplet_masks(Tensor::zeros({0, 1, 4, 4}), {{0.5, 1, 0.3}});
      },
      {"[triplet_masks]", "N, H, W >= 1"});
  Tensor truth = Tensor::zeros({2, 1, 4, 5}, DType::kUInt8);
  expect_error([&] { threshold_statistics(p, &truth, {0.5f}); }, {"[threshold_statistics]", "[2, 1, 4, 5]"});
  Tensor truth64 = Tensor::zeros({2, 1, 4, 4}, DType::kFloat64);
  expect_error([&] { threshold_statistics(p, &truth64, {0.5f}); }, {"[threshold_statistics]", "float64"});
  expect_error(
      [&] {
        threshold_statistics(p, nullptr, {0.5f, 0.5f});
      },
      {"[threshold_statistics]", "strictly increasing"});
  std::vector<double> many(kMaxTripletThresholds + 1);
  for (size_t i = 0; i < many.size(); ++i) many[i] = static_cast<double>(i) / 4096.0;
  expect_error([&] { threshold_counts(p, many); }, {"[threshold_counts]", "2049 distinct thresholds"});
}

TEST_CASE("triplet_masks: CPU vs CUDA, exactly equal" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  std::vector<double> thr = {0.75, 0.3, 0.4, 0.6, 0.5, 0.3, 0.05, 0.95, 1.0, 0.0};
  std::vector<Triplet> triplets = {
      {0.75, 1000, 0.3}, {0.75, 2000, 0.4}, {0.6, 3000, 0.3}, {0.5, 0, 0.5}, {0.95, 5, 0.05}};
  std::vector<float> sorted = {0.0f, 0.05f, 0.3f, 0.4f, 0.5f, 0.6f, 0.75f, 0.95f};
  for (Shape s : {Shape{3, 1, 37, 45}, Shape{2, 1, 256, 256}, Shape{1, 1, 1024, 1024}, Shape{5, 1, 1, 1}}) {
    for (ScoreKind kind : {ScoreKind::kProbability, ScoreKind::kLogit}) {
      CAPTURE(s.str());
      CAPTURE(static_cast<int>(kind));
      Tensor scores = kind == ScoreKind::kProbability ? tricky_probabilities(s, 27)
                                                      : random_tensor(s, 28, DType::kFloat32, -12, 12);
      Tensor g = scores.to(Device::cuda());
      CHECK(as_int64(threshold_counts(g, thr, kind)) == as_int64(threshold_counts(scores, thr, kind)));
      CHECK(as_bytes(triplet_masks(g, triplets, kind)) == as_bytes(triplet_masks(scores, triplets, kind)));
      Tensor truth_f = random_tensor(s, 29, DType::kFloat32, -0.5, 1.0);
      std::vector<double> tb = random_tensor(s, 30, DType::kFloat64, 0.0, 1.0).to_vector();
      for (double& v : tb) v = v < 0.2 ? 255 : 0;
      Tensor truth_u = Tensor::from_vector(tb, s, DType::kUInt8);
      for (const Tensor& truth : {truth_f, truth_u}) {
        Tensor tg = truth.to(Device::cuda());
        CHECK(as_int64(threshold_statistics(g, &tg, sorted, kind)) ==
              as_int64(threshold_statistics(scores, &truth, sorted, kind)));
      }
      CHECK(as_int64(threshold_statistics(g, nullptr, sorted, kind)) ==
            as_int64(threshold_statistics(scores, nullptr, sorted, kind)));
    }
  }
  // The portable sigmoid gives the same bits on the device: masks at threshold p(x) itself for a sweep of x.
  std::vector<double> xs;
  for (double x = -105; x < 30; x += 0.0137) xs.push_back(x);
  Tensor x = Tensor::from_vector(xs, {1, 1, 1, static_cast<int64_t>(xs.size())});
  std::vector<Triplet> at_p;
  for (size_t i = 0; i < xs.size(); i += 97) {
    double p = triplet_math::portable_sigmoid(static_cast<float>(xs[i]));
    at_p.push_back({0.0, 0, p});
  }
  CHECK(as_bytes(triplet_masks(x.to(Device::cuda()), at_p, ScoreKind::kLogit)) ==
        as_bytes(triplet_masks(x, at_p, ScoreKind::kLogit)));
}

TEST_CASE("triplet_masks: bad input on CUDA" * doctest::test_suite("gpu")) {
  PLEURA_REQUIRE_GPU();
  Tensor p = Tensor::zeros({2, 1, 4, 4}).to(Device::cuda());
  Tensor truth = Tensor::zeros({2, 1, 4, 4}, DType::kUInt8);
  expect_error([&] { threshold_statistics(p, &truth, {0.5f}); }, {"[threshold_statistics]", "cpu"});
}
