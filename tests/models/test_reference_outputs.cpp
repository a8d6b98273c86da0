// The three models against the reference PyTorch models themselves: every parameter and buffer set by the
// same formula on both sides, the same input, and the outputs (eval and training mode) and two weight
// gradients compared with values the reference code produced (tests/fixtures/reference/models/, made by
// make_model_reference.py there from the solution's own model code).
#include <cmath>

#include "engine/fast_convolutions.h"
#include "engine/autograd.h"
#include "engine/npy.h"
#include "engine/ops/mul.h"
#include "engine/ops/reduce.h"
#include "models/registry.h"
#include "tests/layers/reference_keys.h"
#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

namespace {

std::string golden(const std::string& file) { return std::string(PLEURA_FIXTURES_DIR) + "/reference/models/" + file; }

// The formula of make_model_reference.py's fill_value: entry `index` of the key list, element j.
Tensor formula_value(const std::string& name, int64_t index, const Shape& shape) {
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (size_t j = 0; j < v.size(); ++j) {
    double u = std::sin(0.61 * static_cast<double>(j) + 1.37 * static_cast<double>(index) + 0.2);
    if (name.ends_with("running_var")) {
      v[j] = 1.0 + 0.15 * (u + 1.0);
    } else if (name.ends_with("running_mean")) {
      v[j] = 0.1 * u;
    } else if (name.ends_with(".bias")) {
      v[j] = 0.05 * u;
    } else if (shape.ndim() == 1) {
      v[j] = 1.0 + 0.1 * u;
    } else {
      v[j] = u * std::sqrt(2.0 / static_cast<double>(shape.numel() / shape[0]));
    }
  }
  return Tensor::from_vector(v, shape, DType::kFloat32);
}

void fill_from_formula(Model& model, const std::string& reference) {
  std::vector<std::string> names;
  for (const ReferenceKey& k : read_reference_keys(reference))
    if (k.alias_of.empty() && !k.name.starts_with("encoder.fc.")) names.push_back(k.name);
  NamedSlots slots = model.state_dict_slots();
  REQUIRE(slots.size() == names.size());
  NoGradGuard no_grad;
  for (auto& [name, tensor] : slots) {
    int64_t index = std::find(names.begin(), names.end(), name) - names.begin();
    REQUIRE_MESSAGE(index < static_cast<int64_t>(names.size()), name, " is not in keys_", reference, ".txt");
    if (name.ends_with("num_batches_tracked")) {
      tensor->copy_from(Tensor::zeros(tensor->shape(), DType::kInt64));
    } else {
      tensor->copy_from(formula_value(name, index, tensor->shape()));
    }
  }
}

// Largest |a - b| over the largest |b|: the outputs pass through dozens of float32 layers computed with
// other algorithms (and summation orders) than PyTorch's, so elements are judged on the tensor's scale.
double scaled_error(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  std::vector<double> a = got.to_vector(), b = want.to_vector();
  double worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return worst / scale;
}

struct Case {
  const char* model;      // make_model name
  const char* reference;  // keys_<reference>.txt and the golden file prefix
  const char* first;      // the first convolution's weight
  const char* last;       // the final 1x1 convolution's weight
};

}  // namespace

TEST_CASE("models: outputs and gradients equal the reference PyTorch models") {
  const Case cases[] = {{"albunet", "albunet", "encoder.conv1.weight", "final.weight"},
                        {"resnet50_unet", "resnet50", "encoder_stages.0.0.weight", "final.0.weight"},
                        {"scse_unet", "scseunet", "encoder_stages.0.conv1.weight", "final.0.weight"}};
  for (const Case& c : cases) {
    CAPTURE(std::string(c.model));
    auto model = make_model(c.model, 3);
    fill_from_formula(*model, c.reference);
    std::vector<double> xv(2 * 3 * 64 * 64);
    for (size_t j = 0; j < xv.size(); ++j) xv[j] = 0.5 + 0.4 * std::sin(0.013 * static_cast<double>(j) + 0.7);
    Tensor x = Tensor::from_vector(xv, {2, 3, 64, 64});
    std::vector<double> wv(2 * 64 * 64);
    for (size_t j = 0; j < wv.size(); ++j) wv[j] = std::cos(0.05 * static_cast<double>(j));
    std::string prefix = c.reference;

    // A float64 twin, made before any forward pass (its running statistics are the formula's).
    auto model64 = make_model(c.model, 3);
    fill_from_formula(*model64, c.reference);
    model64->to(DType::kFloat64);

    // Float32 outputs, eval mode then training mode, judged on the output's scale.
    {
      NoGradGuard no_grad;
      model->eval();
      const Tensor exact = model->forward(x);
      double e = scaled_error(exact, read_npy(golden(prefix + "_out_eval.npy")));
      double w = 0;
      {  // As infer_unet computes it on the CPU: 3x3 convolutions by Winograd F(4x4,3x3) (cpu/conv2d_winograd_f4.h)
        const FastInferenceConvolutionsScope winograd(true);
        const Tensor fast = model->forward(x);
        w = scaled_error(fast, read_npy(golden(prefix + "_out_eval.npy")));
        // It did run: other roundings than the exact path's (the largest error may still fall on an element
        // whose value did not move, as resnet50_unet's did on a Zen 5).
        if (fast_inference_convolutions_run_on(Device::cpu())) CHECK(max_abs_diff(fast, exact) > 0);
      }
      MESSAGE(std::string(c.model), " float32 eval output error with Winograd F(4x4,3x3): ", w);
      CHECK(w <= 1e-5);
      model->train();
      double t = scaled_error(model->forward(x), read_npy(golden(prefix + "_out_train.npy")));
      MESSAGE(std::string(c.model), " float32 output errors: eval ", e, ", training ", t);
      CHECK(e <= 1e-5);
      CHECK(t <= 1e-4);
    }

    // Float64 gradients of the first and the final convolution, eval then training mode (see the script
    // for why float64): the same graph computed by both implementations agrees to rounding...
    Tensor x64 = x.to(DType::kFloat64), w64 = Tensor::from_vector(wv, {2, 1, 64, 64}).to(DType::kFloat64);
    Tensor* first = nullptr;
    Tensor* last = nullptr;
    for (auto& [name, p] : model64->named_parameters()) {
      if (name == c.first) first = p;
      if (name == c.last) last = p;
    }
    REQUIRE(first != nullptr);
    REQUIRE(last != nullptr);
    for (const char* mode : {"eval", "train"}) {
      model64->train(std::string(mode) == "train");
      model64->zero_grad();
      sum(mul(model64->forward(x64), w64)).backward();
      double gf = scaled_error(first->grad(), read_npy(golden(prefix + "_grad64_" + mode + "_first.npy")));
      double gl = scaled_error(last->grad(), read_npy(golden(prefix + "_grad64_" + mode + "_last.npy")));
      MESSAGE(std::string(c.model), " float64 ", std::string(mode), " gradient errors: first conv ", gf, ", final conv ", gl);
      // ...except where the network itself amplifies rounding: in training mode ResNet50-UNet's batch
      // norms over 8 values per channel (layer4 at 2x2) turn a 1e-15 relative change of the input into
      // 8e-6 at the encoder's output (measured with PyTorch), and the encoder's gradients inherit it.
      bool amplified = std::string(mode) == "train" && std::string(c.model) == "resnet50_unet";
      CHECK(gf <= (amplified ? 1e-3 : 1e-9));
      CHECK(gl <= 1e-9);
    }
  }
}
