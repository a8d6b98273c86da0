// The engine's compute precision policy: float32 everywhere (the default), or bf16 mixed precision, where
// convolutions take their inputs, weights and bias rounded to bfloat16 and give bfloat16-rounded outputs
// and gradients (float32 accumulation inside), as tensor cores would compute them, while batch norm
// statistics, losses, the optimizer and the master weights stay float32. The CPU rounds exactly where a
// GPU would (engine/ops/round_bf16.h), so both backends follow one policy. Set once per run by the tools
// ([train] precision, --precision); process-wide. Test: tests/engine/test_precision.cpp.
#pragma once

#include <string>

#include "engine/scoped_setting.h"

namespace pleura {

enum class Precision { kFloat32, kBFloat16 };

void set_precision(Precision p);
Precision precision();
// "fp32" / "bf16".
const char* precision_name(Precision p);
// Parses "fp32" or "bf16"; throws naming `where` and the value otherwise.
Precision parse_precision(const std::string& text, const std::string& where);

// Sets a precision for its scope (tests, tools), restoring the previous one after.
using PrecisionScope = ScopedSetting<Precision, precision, set_precision>;

}  // namespace pleura
