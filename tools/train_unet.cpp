// train_unet: trains the solution's UNets from an INI configuration. A thin main over
// pleura::train_unet_main (train/train_cli.h); tests: tests/tools/test_train_unet.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "train/train_cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::train_unet_main(args, std::cout, std::cerr);
}
