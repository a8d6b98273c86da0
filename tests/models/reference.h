// Readers for the reference model facts under tests/fixtures/reference/ (produced from the PyTorch models,
// see SEMANTICS.md): the table of numbers.md, and checks of a Pleura model against it and against the key
// lists (read by tests/layers/reference_keys.h). Used by tests/models/test_*.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/module.h"
#include "tests/layers/reference_keys.h"

namespace pleura::testing {

struct ReferenceNumbers {
  int64_t params_used = 0, bn_layers = 0, conv_layers = 0;
};
// The row of numbers.md whose first cell is `model` ("albunet", "resnet50", "scseunet").
ReferenceNumbers read_reference_numbers(const std::string& model);

// CHECKs that model.state_dict_slots() lists exactly the non-alias keys of keys_<reference>.txt that do not
// start with `skip_prefix` (when non-empty), in the same order, with the same shapes and dtypes.
void check_state_dict_against(Module& model, const std::string& reference, const std::string& skip_prefix = "");

// Number of Conv2d and BatchNorm2d modules in the tree.
int count_conv_layers(Module& model);
int count_bn_layers(Module& model);

}  // namespace pleura::testing
