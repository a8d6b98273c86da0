// infer_unet: images -> probability maps with one UNet and a list of checkpoints (flip TTA, running mean).
// A thin main over pleura::infer::infer_unet_main (infer/infer_run.h); tests:
// tests/tools/test_infer_unet.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "infer/infer_run.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::infer::infer_unet_main(args, std::cout, std::cerr);
}
