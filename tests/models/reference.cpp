// Reference key lists and numbers (tests/models/reference.h).
#include "tests/models/reference.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "layers/batchnorm.h"
#include "layers/conv.h"

namespace pleura::testing {

namespace {
std::string reference_path(const std::string& file) { return std::string(PLEURA_FIXTURES_DIR) + "/reference/" + file; }

}  // namespace

ReferenceNumbers read_reference_numbers(const std::string& model) {
  std::ifstream in(reference_path("numbers.md"));
  REQUIRE_MESSAGE(in.good(), "cannot open numbers.md");
  auto number = [](std::string cell) {
    std::string digits;
    for (char c : cell)
      if (c >= '0' && c <= '9') digits += c;
    return std::stoll(digits);
  };
  std::string line;
  while (std::getline(in, line)) {
    // | model | params (unique) | params used | BN layers | conv layers | ...
    std::vector<std::string> cells;
    std::istringstream row(line);
    std::string cell;
    while (std::getline(row, cell, '|')) cells.push_back(cell);
    if (cells.size() < 6 || cells[1] != " " + model + " ") continue;
    return {number(cells[3]), number(cells[4]), number(cells[5])};
  }
  FAIL("numbers.md has no row for ", model);
  return {};
}

void check_state_dict_against(Module& model, const std::string& reference, const std::string& skip_prefix) {
  std::vector<ReferenceKey> expected;
  for (const ReferenceKey& k : read_reference_keys(reference))
    if (k.alias_of.empty() && (skip_prefix.empty() || !k.name.starts_with(skip_prefix))) expected.push_back(k);
  NamedSlots got = model.state_dict_slots();
  CHECK_MESSAGE(got.size() == expected.size(), reference, ": ", got.size(), " keys, reference has ", expected.size());
  size_t n = std::min(got.size(), expected.size());
  int mismatches = 0;
  for (size_t i = 0; i < n && mismatches < 10; ++i) {
    const Tensor& t = *got[i].second;
    bool same = got[i].first == expected[i].name && t.shape() == expected[i].shape && t.dtype() == expected[i].dtype;
    if (!same) ++mismatches;
    CHECK_MESSAGE(same, reference, " entry ", i, ": got ", got[i].first, " ", t.shape().str(), " ", dtype_name(t.dtype()),
                  ", reference ", expected[i].name, " ", expected[i].shape.str(), " ", dtype_name(expected[i].dtype));
  }
}

int count_conv_layers(Module& model) {
  int n = 0;
  for (auto& [name, m] : model.named_modules()) n += dynamic_cast<Conv2d*>(m) != nullptr;
  return n;
}

int count_bn_layers(Module& model) {
  int n = 0;
  for (auto& [name, m] : model.named_modules()) n += dynamic_cast<BatchNorm2d*>(m) != nullptr;
  return n;
}

}  // namespace pleura::testing
