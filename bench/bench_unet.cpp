// bench_unet: training-step and forward timing of the three UNets. A thin main over
// pleura::bench_unet_main (bench/unet_bench.h); test: tests/bench/test_bench_unet.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "bench/unet_bench.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::bench_unet_main(args, std::cout, std::cerr);
}
