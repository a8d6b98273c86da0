// rle_submit: probability maps (one folder or a weighted ensemble) -> submission CSV. A thin main over
// pleura::eval::rle_submit_main (eval/submission.h); tests: tests/tools/test_rle_submit.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "eval/submission.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::eval::rle_submit_main(args, std::cout, std::cerr);
}
