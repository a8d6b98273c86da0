// The three schedulers of scheduler.h.
#include "train/scheduler.h"

#include <cmath>
#include <limits>

#include "engine/error.h"

namespace pleura {

namespace {

double get(const std::map<std::string, double>& s, const char* key) {
  auto it = s.find(key);
  PLEURA_CHECK(it != s.end(), "[scheduler] saved state lacks '", key, "'");
  return it->second;
}

class Plateau : public Scheduler {
 public:
  Plateau(double base_lr, const PlateauOptions& o) : o_(o), lr_(base_lr) {
    PLEURA_CHECK(o.factor > 0 && o.factor < 1, "[scheduler] plateau factor ", o.factor, " must lie in (0, 1)");
    PLEURA_CHECK(o.patience >= 0, "[scheduler] plateau patience ", o.patience, " must be >= 0");
  }
  double step(double metric) override {
    if (metric > best_ * (1.0 + o_.threshold)) {
      best_ = metric;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (bad_epochs_ > o_.patience) {
      double reduced = std::max(lr_ * o_.factor, o_.min_lr);
      if (lr_ - reduced > 1e-8) lr_ = reduced;  // PyTorch's eps: changes smaller than 1e-8 are ignored
      bad_epochs_ = 0;
    }
    return lr_;
  }
  double lr() const override { return lr_; }
  std::map<std::string, double> state() const override {
    return {{"lr", lr_}, {"best", best_}, {"bad_epochs", static_cast<double>(bad_epochs_)}};
  }
  void load_state(const std::map<std::string, double>& s) override {
    lr_ = get(s, "lr");
    best_ = get(s, "best");
    bad_epochs_ = static_cast<int64_t>(get(s, "bad_epochs"));
  }

 private:
  PlateauOptions o_;
  double lr_;
  double best_ = -std::numeric_limits<double>::infinity();
  int64_t bad_epochs_ = 0;
};

class Cosine : public Scheduler {
 public:
  Cosine(double base_lr, const CosineOptions& o) : o_(o), base_lr_(base_lr) {
    PLEURA_CHECK(o.t_max >= 1, "[scheduler] cosine T_max ", o.t_max, " must be >= 1");
  }
  double step(double) override {
    ++epoch_;
    return lr();
  }
  double lr() const override {
    return o_.eta_min + (base_lr_ - o_.eta_min) * (1.0 + std::cos(M_PI * static_cast<double>(epoch_) /
                                                                   static_cast<double>(o_.t_max))) / 2.0;
  }
  std::map<std::string, double> state() const override { return {{"epoch", static_cast<double>(epoch_)}}; }
  void load_state(const std::map<std::string, double>& s) override { epoch_ = static_cast<int64_t>(get(s, "epoch")); }

 private:
  CosineOptions o_;
  double base_lr_;
  int64_t epoch_ = 0;
};

class WarmRestarts : public Scheduler {
 public:
  WarmRestarts(double base_lr, const WarmRestartsOptions& o) : o_(o), base_lr_(base_lr), t_i_(o.t_0) {
    PLEURA_CHECK(o.t_0 >= 1, "[scheduler] warm restarts T_0 ", o.t_0, " must be >= 1");
    PLEURA_CHECK(o.t_mult >= 1, "[scheduler] warm restarts T_mult ", o.t_mult, " must be >= 1");
  }
  double step(double) override {
    if (++t_cur_ >= t_i_) {
      t_cur_ -= t_i_;
      t_i_ *= o_.t_mult;
    }
    return lr();
  }
  double lr() const override {
    return o_.eta_min + (base_lr_ - o_.eta_min) *
                            (1.0 + std::cos(M_PI * static_cast<double>(t_cur_) / static_cast<double>(t_i_))) / 2.0;
  }
  std::map<std::string, double> state() const override {
    return {{"t_cur", static_cast<double>(t_cur_)}, {"t_i", static_cast<double>(t_i_)}};
  }
  void load_state(const std::map<std::string, double>& s) override {
    t_cur_ = static_cast<int64_t>(get(s, "t_cur"));
    t_i_ = static_cast<int64_t>(get(s, "t_i"));
  }

 private:
  WarmRestartsOptions o_;
  double base_lr_;
  int64_t t_cur_ = 0;
  int64_t t_i_;
};

}  // namespace

std::unique_ptr<Scheduler> make_plateau(double base_lr, const PlateauOptions& options) {
  return std::make_unique<Plateau>(base_lr, options);
}
std::unique_ptr<Scheduler> make_cosine(double base_lr, const CosineOptions& options) {
  return std::make_unique<Cosine>(base_lr, options);
}
std::unique_ptr<Scheduler> make_warm_restarts(double base_lr, const WarmRestartsOptions& options) {
  return std::make_unique<WarmRestarts>(base_lr, options);
}

}  // namespace pleura
