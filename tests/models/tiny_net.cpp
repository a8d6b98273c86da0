// TinyNet (tiny_net.h).
#include "tests/models/tiny_net.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/global_avg_pool.h"
#include "engine/ops/max_pool2d.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/relu.h"
#include "engine/ops/sigmoid.h"
#include "engine/ops/upsample.h"
#include "engine/random.h"

namespace pleura::testing {

TinyNet TinyNet::make(uint64_t seed, DType dtype) {
  Rng rng(seed);
  // Normal weights with He scaling, so activations stay O(1).
  auto w = [&](Shape s) { return randn(s, rng, dtype, Device::cpu(), 0.0, std::sqrt(2.0 / (s.numel() / s[0]))); };
  auto u = [&](Shape s, double lo, double hi) { return rand_uniform(s, rng, lo, hi, dtype); };
  TinyNet n;
  n.w1 = w({4, 3, 3, 3});
  n.bn_w = u({4}, 0.8, 1.2);
  n.bn_b = u({4}, -0.1, 0.1);
  n.w2 = w({6, 4, 3, 3});
  n.b2 = u({6}, -0.1, 0.1);
  n.w3 = w({1, 10, 1, 1});
  n.b3 = u({1}, -0.1, 0.1);
  n.running_mean = Tensor::zeros({4}, dtype);
  n.running_var = Tensor::ones({4}, dtype);
  for (Tensor* p : n.params()) p->set_requires_grad(true);
  return n;
}

TinyNet TinyNet::to(Device device) const {
  TinyNet n = *this;
  for (Tensor* t : {&n.w1, &n.bn_w, &n.bn_b, &n.w2, &n.b2, &n.w3, &n.b3, &n.running_mean, &n.running_var})
    *t = t->detach().clone().to(device);
  for (Tensor* p : n.params()) p->set_requires_grad(true);
  return n;
}

std::vector<Tensor*> TinyNet::params() { return {&w1, &bn_w, &bn_b, &w2, &b2, &w3, &b3}; }

Tensor TinyNet::forward(const Tensor& x, const std::vector<Tensor>& p) {
  Conv2dParams same3{.pad_h = 1, .pad_w = 1};
  Tensor a = relu(batch_norm2d(conv2d(x, p[0], Tensor(), same3), p[1], p[2], running_mean, running_var, {}));
  Tensor d = max_pool2d(a, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2});
  Tensor c = relu(conv2d(d, p[3], p[4], same3));
  Tensor m = concat({upsample2x(c, UpsampleMode::kBilinear), a});
  Tensor gated = mul(m, sigmoid(global_avg_pool(m)));
  return conv2d(gated, p[5], p[6], {});
}

Tensor TinyNet::forward(const Tensor& x) {
  std::vector<Tensor> p;
  for (Tensor* t : params()) p.push_back(*t);
  return forward(x, p);
}

Tensor mse(const Tensor& out, const Tensor& target) {
  Tensor minus_one = Tensor::full(target.shape(), -1.0, target.dtype(), target.device());
  Tensor diff = add(out, mul(target, minus_one));
  return mean(mul(diff, diff));
}

void sgd_step(const std::vector<Tensor*>& params, double lr) {
  NoGradGuard no_grad;
  for (Tensor* p : params) {
    Tensor g = p->grad();
    Tensor step = mul(g, Tensor::full(g.shape(), -lr, g.dtype(), g.device()));
    p->copy_from(add(*p, step));
    p->zero_grad();
  }
}

}  // namespace pleura::testing
