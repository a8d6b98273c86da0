// How cuDNN's convolution algorithm is chosen for each shape, pass and math mode, once per process
// (cuda/conv2d_cudnn.cu applies it; the CPU's convolutions give the same bits either way):
// - measured (the default, as PyTorch's cudnn.benchmark): every algorithm the math mode allows is run and
//   timed at first use (engine/algorithm_race.h) and the fastest kept. The choice can differ from one run
//   to the next (timing noise) and may be an algorithm whose sums are not ordered (atomics), so two runs
//   need not give the same bits.
// - reproducible: cuDNN's heuristic ranking, deterministic algorithms first, nothing timed: the same choice
//   and the same bits in every run on the same card and libraries.
// Set once per run by the tools ([run] cudnn_algorithms, --cudnn-algorithms); the parity tests take
// reproducible. Process-wide. Implementation in engine/conv_algorithm_choice.cpp; test
// tests/engine/test_algorithm_race.cpp.
#pragma once

#include <string>

#include "engine/scoped_setting.h"

namespace pleura {

enum class ConvAlgorithmChoice { kMeasured, kReproducible };

void set_conv_algorithm_choice(ConvAlgorithmChoice choice);
ConvAlgorithmChoice conv_algorithm_choice();
// "measured" / "reproducible".
const char* conv_algorithm_choice_name(ConvAlgorithmChoice choice);
// Parses those names; throws naming `where` and the value otherwise.
ConvAlgorithmChoice parse_conv_algorithm_choice(const std::string& text, const std::string& where);

// Sets the choice for its scope (tools, tests), restoring the previous one after.
using ConvAlgorithmChoiceScope =
    ScopedSetting<ConvAlgorithmChoice, conv_algorithm_choice, set_conv_algorithm_choice>;

}  // namespace pleura
