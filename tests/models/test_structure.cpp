// Structure of the three models against the reference PyTorch models (tests/fixtures/reference): every
// state_dict key in order with its shape and dtype, the used parameter count, and the numbers of
// convolution and batch-norm layers.
#include <doctest/doctest.h>

#include "models/registry.h"
#include "tests/models/reference.h"

using namespace pleura;
using namespace pleura::testing;

namespace {
struct Case {
  const char* model;    // make_model name
  const char* row;      // reference name: keys_<row>.txt and the numbers.md row
  const char* skip;     // reference keys the model leaves out on purpose
};
// AlbuNet leaves out torchvision's encoder.fc (never used by the UNet; the alias keys are skipped
// by check_state_dict_against).
const Case kCases[] = {{"albunet", "albunet", "encoder.fc."},
                       {"resnet50_unet", "resnet50", ""},
                       {"scse_unet", "scseunet", ""}};
}  // namespace

TEST_CASE("models: state_dict keys, shapes and dtypes equal the reference lists, in order") {
  for (const Case& c : kCases) {
    CAPTURE(c.model);
    auto model = make_model(c.model, 1);
    check_state_dict_against(*model, c.row, c.skip);
  }
}

TEST_CASE("models: used parameter counts and conv / batch-norm layer counts equal numbers.md") {
  for (const Case& c : kCases) {
    CAPTURE(c.model);
    auto model = make_model(c.model, 1);
    ReferenceNumbers ref = read_reference_numbers(c.row);
    CHECK(model->num_parameters() == ref.params_used);
    CHECK(count_conv_layers(*model) == ref.conv_layers);
    CHECK(count_bn_layers(*model) == ref.bn_layers);
  }
}
