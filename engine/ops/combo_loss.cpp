// combo_loss entry point: checks, the per-image sums from one kernel pass, the final formula
// (engine/ops/combo_loss_math.h: on the host after reading the sums back, or on the device without a
// read), and the backward node.
#include "engine/ops/combo_loss.h"

#include <cmath>
#include <cstring>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_checks.h"
#include "engine/ops/combo_loss_math.h"

namespace pleura {

namespace {

constexpr const char* kOp = "combo_loss";

class ComboLossBackward : public Node {
 public:
  ComboLossBackward(Tensor logits, Tensor targets, int64_t n_images, ComboBackwardScales scales, Tensor result)
      : logits_(std::move(logits)), targets_(std::move(targets)), n_images_(n_images), scales_(scales),
        result_(std::move(result)) {}
  std::vector<Tensor> apply(const Tensor& grad_out) override {
    Tensor grad = Tensor::empty_like(logits_);
    PLEURA_DISPATCH(logits_.device(), kOp,
                    combo_loss_bwd(logits_, targets_, n_images_, scales_, result_, grad_out, grad));
    return {grad};
  }
  void release_saved() override {
    logits_ = Tensor();
    targets_ = Tensor();
    result_ = Tensor();
  }
  const char* name() const override { return kOp; }

 private:
  Tensor logits_, targets_;
  int64_t n_images_;
  ComboBackwardScales scales_;
  Tensor result_;  // ComboResult + the dice coefficients (engine/ops/combo_loss.h), on the logits' device
};

// The per-image sums of the whole batch: this process's, or every rank's in rank order (params.group).
struct BatchSums {
  std::vector<double> sums;  // images x kComboSumCount
  int64_t n_images = 0;
  int64_t numel = 0;
  int64_t first = 0;  // index of this process's first image among n_images
};

BatchSums gather_sums(std::vector<double> local, int64_t n_images, int64_t numel, Communicator* group) {
  if (group == nullptr || group->size() == 1) return {std::move(local), n_images, numel, 0};
  const std::vector<double> counts =
      group->all_gather({static_cast<double>(n_images), static_cast<double>(numel)});
  BatchSums all;
  for (int r = 0; r < group->size(); ++r) {
    if (r == group->rank()) all.first = all.n_images;
    all.n_images += static_cast<int64_t>(counts[static_cast<size_t>(2 * r)]);
    all.numel += static_cast<int64_t>(counts[static_cast<size_t>(2 * r + 1)]);
  }
  all.sums = group->all_gather(local);
  PLEURA_CHECK(static_cast<int64_t>(all.sums.size()) == all.n_images * kComboSumCount, "[", kOp, "] the ranks gave ",
               all.sums.size(), " sums for ", all.n_images, " images");
  return all;
}

void check_arguments(const Tensor& logits, const Tensor& targets, const ComboLossParams& params) {
  check_float(logits, kOp, "logits");
  check_float(targets, kOp, "targets");
  check_same_place(targets, logits, kOp, "targets", "logits");
  check_same_shape(targets, logits, kOp, "targets", "logits");
  PLEURA_CHECK(logits.numel() > 0, "[", kOp, "] logits ", describe(logits), " have no elements");
  PLEURA_CHECK(std::isfinite(params.w_bce) && std::isfinite(params.w_dice) && std::isfinite(params.w_focal), "[", kOp,
               "] weights (bce, dice, focal) = (", params.w_bce, ", ", params.w_dice, ", ", params.w_focal,
               ") must be finite");
  PLEURA_CHECK(params.dice_mode != DiceMode::kPerImage || logits.ndim() >= 1, "[", kOp,
               "] per-image dice needs a leading image dimension; logits ", describe(logits), " have none");
}

ComboFinish finish_settings(const Tensor& logits, const ComboLossParams& params, int64_t n_images, int64_t numel,
                            int64_t first, int64_t local_images) {
  return {n_images,      numel,         first, local_images, params.w_bce, params.w_dice, params.w_focal,
          params.dice_mode == DiceMode::kPerImage, logits.dtype() == DType::kFloat32};
}

struct HostEvaluation {
  Tensor result;  // on the logits' device, for the backward pass
  double loss = 0;
  int64_t numel = 0;  // elements of the whole batch (every rank's)
};

// The host path: the sums read back (and gathered over the ranks), checked, the result computed here and
// sent to the device for the backward pass.
HostEvaluation evaluate_on_host(const Tensor& logits, const Tensor& targets, const Tensor& sums,
                                const ComboLossParams& params, int64_t local_images, ComboLossComponents* components) {
  const BatchSums batch = gather_sums(sums.to_vector(), local_images, logits.numel(), params.group);
  std::vector<double> result(static_cast<size_t>(kComboResultFields + 2 * local_images));
  combo_math::finish(batch.sums.data(),
                     finish_settings(logits, params, batch.n_images, batch.numel, batch.first, local_images),
                     result.data());
  ComboResult r;
  std::memcpy(static_cast<void*>(&r), result.data(), sizeof(ComboResult));
  PLEURA_CHECK(r.nonfinite_logits == 0, "[", kOp, "] logits ", describe(logits), " hold ",
               static_cast<int64_t>(r.nonfinite_logits), " non-finite values (NaN or inf); expected finite logits");
  PLEURA_CHECK(r.bad_targets == 0, "[", kOp, "] targets ", describe(targets), " hold ",
               static_cast<int64_t>(r.bad_targets), " values outside [0, 1] (or NaN); expected values in [0, 1]");
  if (components) *components = {r.bce, r.dice, r.focal};
  return {upload(Tensor::from_vector(result, Shape{static_cast<int64_t>(result.size())}, DType::kFloat64),
                 logits.device()),
          r.loss, batch.numel};
}

}  // namespace

Tensor combo_loss(const Tensor& logits, const Tensor& targets, const ComboLossParams& params,
                  ComboLossComponents* components) {
  const OpScope op_scope("combo_loss");  // names the op in out-of-memory messages (engine/alloc_context.h)
  check_arguments(logits, targets, params);
  const bool on_host = params.check_on_host || (params.group != nullptr && params.group->size() > 1);
  PLEURA_CHECK(on_host || components == nullptr, "[", kOp, "] components need check_on_host");
  const int64_t local_images = logits.ndim() >= 1 ? logits.size(0) : 1;

  Tensor sums = Tensor::empty(Shape{local_images * kComboSumCount}, DType::kFloat64, logits.device());
  PLEURA_DISPATCH(logits.device(), kOp, combo_loss_sums(logits, targets, local_images, sums));
  Tensor result, out;
  int64_t numel = logits.numel();
  if (on_host) {
    HostEvaluation e = evaluate_on_host(logits, targets, sums, params, local_images, components);
    result = std::move(e.result);
    numel = e.numel;
    out = Tensor::full(Shape{}, e.loss, logits.dtype(), logits.device());
  } else {
    result = Tensor::empty(Shape{kComboResultFields + 2 * local_images}, DType::kFloat64, logits.device());
    out = Tensor::empty(Shape{}, logits.dtype(), logits.device());
    const ComboFinish f = finish_settings(logits, params, local_images, logits.numel(), 0, local_images);
    PLEURA_DISPATCH(logits.device(), kOp, combo_loss_finish(sums, f, result, out));
  }
  const ComboBackwardScales scales{params.w_bce / static_cast<double>(numel),
                                   params.w_focal / static_cast<double>(numel)};
  record(out, {&logits}, [&]() -> std::shared_ptr<Node> {
    return std::make_shared<ComboLossBackward>(logits.detach(), targets.detach(), local_images, scales, result);
  });
  return out;
}

}  // namespace pleura
