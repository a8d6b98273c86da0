// rle_submit: probability maps (one folder or a weighted ensemble) -> submission CSV. A thin main over
// pleura::submit::rle_submit_main (train/submit/submission.h); tests: tests/tools/test_rle_submit.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "train/submit/submission.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::submit::rle_submit_main(args, std::cout, std::cerr);
}
