// fuzz_write_seeds SOURCE_DIR OUT_DIR: writes the seeds of every fuzz target (fuzz_targets.h) as files
// OUT_DIR/<target>/seed-<n>, the starting corpora of scripts/fuzz.sh. Not part of the unit tests.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/fuzz/fuzz_targets.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SOURCE_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    for (const pleura::fuzz::Target& t : pleura::fuzz::targets()) {
      const std::filesystem::path folder = std::filesystem::path(argv[2]) / t.name;
      std::filesystem::create_directories(folder);
      int n = 0;
      for (const std::string& seed : pleura::fuzz::seeds(t.name, argv[1])) {
        std::ofstream out(folder / ("seed-" + std::to_string(n++)), std::ios::binary);
        out.write(seed.data(), static_cast<std::streamsize>(seed.size()));
        if (!out) throw std::runtime_error("cannot write " + (folder / ("seed-" + std::to_string(n))).string());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_write_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
