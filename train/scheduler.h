// Learning-rate schedulers of the reference pipeline, stepped once per validated epoch, with
// PyTorch's semantics: ReduceLROnPlateau (mode max), CosineAnnealingLR (closed form, which keeps
// oscillating past T_max, as PyTorch 1.1 computed it) and CosineAnnealingWarmRestarts.
// Tests: tests/train/test_scheduler.cpp (against values recorded from PyTorch).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace pleura {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Advances one epoch; `metric` is the validation score (used by the plateau scheduler only).
  // Returns the learning rate for the next epoch.
  virtual double step(double metric) = 0;
  virtual double lr() const = 0;
  // Everything needed to resume, as named numbers (for checkpoints).
  virtual std::map<std::string, double> state() const = 0;
  virtual void load_state(const std::map<std::string, double>& state) = 0;
};

struct PlateauOptions {
  double factor = 0.1;
  int64_t patience = 2;
  double threshold = 1e-7;  // relative: better means metric > best * (1 + threshold)
  double min_lr = 1e-7;
};

struct CosineOptions {
  int64_t t_max = 10;
  double eta_min = 0.0;
};

struct WarmRestartsOptions {
  int64_t t_0 = 10;
  int64_t t_mult = 1;
  double eta_min = 0.0;
};

std::unique_ptr<Scheduler> make_plateau(double base_lr, const PlateauOptions& options);
std::unique_ptr<Scheduler> make_cosine(double base_lr, const CosineOptions& options);
std::unique_ptr<Scheduler> make_warm_restarts(double base_lr, const WarmRestartsOptions& options);

}  // namespace pleura
