// Tests of the precision policy (engine/precision.h): names, parsing with a clear error, the scope.
#include "engine/precision.h"

#include "tests/testing.h"

using namespace pleura;
using namespace pleura::testing;

TEST_CASE("precision: fp32 by default, parsed by name, set for a scope") {
  CHECK(precision() == Precision::kFloat32);
  CHECK(parse_precision("bf16", "x.ini:3") == Precision::kBFloat16);
  CHECK(parse_precision("fp32", "x.ini:3") == Precision::kFloat32);
  CHECK(std::string(precision_name(Precision::kBFloat16)) == "bf16");
  expect_error([] { parse_precision("fp16", "x.ini:3: [train] precision"); },
               {"x.ini:3: [train] precision", "'fp16'", "fp32 or bf16"});
  {
    const PrecisionScope bf16(Precision::kBFloat16);
    CHECK(precision() == Precision::kBFloat16);
  }
  CHECK(precision() == Precision::kFloat32);
}
