// score_submission: the Kaggle metric of a submission CSV against a truth CSV, with extra scores. A thin
// main over pleura::eval::score_submission_main (eval/scoring.h); tests:
// tests/tools/test_score_submission.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "eval/scoring.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::eval::score_submission_main(args, std::cout, std::cerr);
}
