// ScopedSetting: sets one of the engine's process-wide settings for its scope and restores the previous
// value after (engine/precision.h's PrecisionScope, engine/fast_convolutions.h's
// FastInferenceConvolutionsScope, engine/conv_algorithm_choice.h's ConvAlgorithmChoiceScope). Header only;
// exercised by each setting's tests.
#pragma once

namespace pleura {

template <class T, T (*Get)(), void (*Set)(T)>
class ScopedSetting {
 public:
  explicit ScopedSetting(T value) : previous_(Get()) { Set(value); }
  ~ScopedSetting() { Set(previous_); }
  ScopedSetting(const ScopedSetting&) = delete;
  ScopedSetting& operator=(const ScopedSetting&) = delete;

 private:
  T previous_;
};

}  // namespace pleura
