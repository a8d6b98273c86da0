// Reference key lists and numbers (tests/models/reference.h).
#include "tests/models/reference.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "layers/batchnorm.h"
#include "layers/conv.h"

namespace pleura::testing {

namespace {
std::string reference_path(const std::string& file) { return std::string(PLEURA_TEST_DATA_DIR) + "/reference/" + file; }

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
}  // namespace

std::vector<ReferenceKey> read_reference_keys(const std::string& file) {
  std::ifstream in(reference_path(file));
  REQUIRE_MESSAGE(in.good(), "cannot open ", reference_path(file));
  std::vector<ReferenceKey> keys;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string name, shape, dtype;
    REQUIRE(std::getline(fields, name, '\t'));
    REQUIRE(std::getline(fields, shape, '\t'));
    REQUIRE(std::getline(fields, dtype, '\t'));
    ReferenceKey k;
    k.name = name;
    k.alias = dtype.find('=') != std::string::npos;
    k.dtype = dtype.substr(0, dtype.find(' '));
    std::string dims = shape.substr(1, shape.size() - 2);  // strip [ ]
    std::istringstream ds(dims);
    std::string d;
    while (std::getline(ds, d, ',')) k.shape.push_back(std::stoll(d));
    keys.push_back(k);
  }
  return keys;
}

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

void check_state_dict_against(Module& model, const std::string& file, const std::string& skip_prefix) {
  std::vector<ReferenceKey> expected;
  for (const ReferenceKey& k : read_reference_keys(file))
    if (!k.alias && (skip_prefix.empty() || !k.name.starts_with(skip_prefix))) expected.push_back(k);
  NamedSlots got = model.state_dict_slots();
  CHECK_MESSAGE(got.size() == expected.size(), file, ": ", got.size(), " keys, reference has ", expected.size());
  size_t n = std::min(got.size(), expected.size());
  int mismatches = 0;
  for (size_t i = 0; i < n && mismatches < 10; ++i) {
    const Tensor& t = *got[i].second;
    std::string dtype = dtype_name(t.dtype());
    bool same = got[i].first == expected[i].name && t.shape().vec() == expected[i].shape && dtype == expected[i].dtype;
    if (!same) ++mismatches;
    CHECK_MESSAGE(same, file, " entry ", i, ": got ", got[i].first, " ", t.shape().str(), " ", dtype, ", reference ",
                  expected[i].name, " ", shape_text(expected[i].shape), " ", expected[i].dtype);
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
