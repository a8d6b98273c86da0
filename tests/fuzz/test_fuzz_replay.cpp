// The fuzz targets in the unit tests: every target runs its seeds, the inputs saved under
// tests/fuzz/regressions/<target>/ (each a crash or hang once found by scripts/fuzz.sh) and a fixed set of
// seeded mutations of the seeds (bit flips, truncations, insertions, repeated chunks, boundary numbers).
// Without sanitizers this finds less than libFuzzer, but it runs on every build and keeps each fixed
// crash fixed. Targets: tests/fuzz/fuzz_targets.h.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"

namespace fs = std::filesystem;

namespace pleura::fuzz {
namespace {

constexpr int kMutantsPerSeed = 400;

// One random edit of `input`; the edits are those that find most parser bugs: sizes and counts made
// huge, zero or negative, inputs cut short, bytes changed.
std::string mutate(std::string input, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  static const char* const kTokens[] = {"-1", "0", "4294967296", "18446744073709551615", "99999999999999999999",
                                        "1e400", "nan", ",", "\n", "\r\n", "\"", "[", "]", "=", " ", "\xff\xff\xff\x7f"};
  switch (rng() % 7) {
    case 0:  // flip a bit
      if (!input.empty()) input[pick(input.size())] ^= static_cast<char>(1u << (rng() % 8));
      break;
    case 1:  // cut the end
      input.resize(pick(input.size() + 1));
      break;
    case 2: {  // set a byte to a boundary value
      static const unsigned char kBytes[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
      if (!input.empty()) input[pick(input.size())] = static_cast<char>(kBytes[rng() % sizeof(kBytes)]);
      break;
    }
    case 3:  // insert a token
      input.insert(pick(input.size() + 1), kTokens[rng() % std::size(kTokens)]);
      break;
    case 4: {  // delete a range
      const size_t at = pick(input.size() + 1);
      input.erase(at, pick(std::min<size_t>(64, input.size() - at) + 1));
      break;
    }
    case 5: {  // repeat a chunk
      const size_t at = pick(input.size() + 1), length = std::min<size_t>(pick(32) + 1, input.size() - at);
      input.insert(at, input.substr(at, length));
      break;
    }
    default: {  // overwrite 4 or 8 bytes with a large little-endian count
      const size_t width = rng() % 2 ? 4 : 8;
      if (input.size() >= width) {
        const size_t at = pick(input.size() - width + 1);
        for (size_t i = 0; i < width; ++i) input[at + i] = static_cast<char>(i + 1 == width ? 0x7f : 0xff);
      }
      break;
    }
  }
  return input;
}

std::vector<std::string> saved_regressions(const std::string& name) {
  std::vector<std::string> out;
  const fs::path folder = fs::path(PLEURA_SOURCE_DIR) / "tests/fuzz/regressions" / name;
  if (!fs::is_directory(folder)) return out;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

void run_input(const Target& t, const std::string& input, const std::string& label) {
  INFO("target ", std::string(t.name), ", input ", label, " (", input.size(), " bytes)");
  CHECK_NOTHROW(t.run(reinterpret_cast<const uint8_t*>(input.data()), input.size()));
}

void replay(const char* name) {
  const Target& t = target(name);
  const std::vector<std::string> seed_inputs = seeds(name, PLEURA_SOURCE_DIR);
  REQUIRE(seed_inputs.size() >= 2);
  for (size_t i = 0; i < seed_inputs.size(); ++i) run_input(t, seed_inputs[i], "seed " + std::to_string(i));
  const std::vector<std::string> regressions = saved_regressions(name);
  for (size_t i = 0; i < regressions.size(); ++i) run_input(t, regressions[i], "regression " + std::to_string(i));
  std::mt19937_64 rng(20261205);
  for (size_t i = 0; i < seed_inputs.size(); ++i) {
    std::string mutant = seed_inputs[i];
    for (int m = 0; m < kMutantsPerSeed; ++m) {
      // Edits accumulate for a few rounds, then start again from the seed.
      mutant = mutate(m % 4 == 0 ? seed_inputs[i] : mutant, rng);
      run_input(t, mutant, "seed " + std::to_string(i) + " mutant " + std::to_string(m));
    }
  }
}

}  // namespace

TEST_SUITE("fuzz") {
  TEST_CASE("fuzz replay: safetensors") { replay("safetensors"); }
  TEST_CASE("fuzz replay: npy") { replay("npy"); }
  TEST_CASE("fuzz replay: dicom") { replay("dicom"); }
  TEST_CASE("fuzz replay: rle") { replay("rle"); }
  TEST_CASE("fuzz replay: label_csv") { replay("label_csv"); }
  TEST_CASE("fuzz replay: folds_csv") { replay("folds_csv"); }
  TEST_CASE("fuzz replay: sample_csv") { replay("sample_csv"); }
  TEST_CASE("fuzz replay: manifest_csv") { replay("manifest_csv"); }
  TEST_CASE("fuzz replay: ini") { replay("ini"); }
  TEST_CASE("fuzz replay: image") { replay("image"); }

  TEST_CASE("fuzz targets: every target has a replay case and an unknown name is refused") {
    CHECK(targets().size() == 10);
    CHECK_THROWS_WITH_AS(target("nope"), doctest::Contains("known: safetensors, npy"), std::invalid_argument);
  }
}

}  // namespace pleura::fuzz
