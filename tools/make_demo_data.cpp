// make_demo_data: a deterministic synthetic SIIM-like data set (DICOM tree, RLE labels, folds, sample
// submission). A thin main over pleura::data::make_demo_data_main (data/synthetic_dataset.h);
// tests: tests/tools/test_make_demo_data.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "data/synthetic_dataset.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::data::make_demo_data_main(args, std::cout, std::cerr);
}
