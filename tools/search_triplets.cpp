// search_triplets: scores (top, area, bottom) triplets on validation probability maps. A thin main over
// pleura::eval::search_triplets_main (eval/search.h); tests: tests/tools/test_search_triplets.cpp.
#include <iostream>
#include <string>
#include <vector>

#include "eval/search.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return pleura::eval::search_triplets_main(args, std::cout, std::cerr);
}
