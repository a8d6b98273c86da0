// Float64 gradient check of a layer through its own parameters, shared by tests/layers/test_*.cpp.
#pragma once

#include <functional>
#include <vector>

#include "layers/module.h"
#include "tests/gradcheck.h"

namespace pleura::testing {

// check_gradients over `inputs` followed by every parameter of `m` (written into the module on each
// call); fn computes the output from the inputs. The function checked is fn(v) - fn(v0), a constant
// offset that leaves every gradient unchanged but keeps gradcheck's weighted sum of the output near
// zero: behind batch norm the outputs stay O(1) while the gradients of early parameters are ~1e-3,
// and the rounding of a sum of O(1) terms would otherwise swamp their central differences.
double gradcheck_module(Module& m, std::vector<Tensor> inputs, const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                        const GradCheckOptions& options = {});

}  // namespace pleura::testing
