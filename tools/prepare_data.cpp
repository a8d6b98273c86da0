// prepare_data: SIIM-style DICOM/PNG tree -> PNGs, masks and a manifest. A thin main over
// pleura::data::prepare_data_main (data/prepare.h); tests: tests/tools/test_prepare_data.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "data/prepare.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::data::prepare_data_main(args, std::cout, std::cerr);
}
