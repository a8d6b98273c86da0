// The fuzz targets: one function per parser of outside input, each taking arbitrary bytes. An input the
// parser refuses must end in a pleura::Error (caught here); anything else escaping, a crash, a sanitizer
// report or a failed round-trip check is a bug. Built two ways: into the unit tests, which replay the seeds,
// the saved regressions and seeded mutations of them (tests/fuzz/test_fuzz_replay.cpp), and as libFuzzer
// programs with AddressSanitizer and UndefinedBehaviorSanitizer (tests/fuzz/CMakeLists.txt,
// scripts/fuzz.sh). Targets live in tests/fuzz/fuzz_<format>.cpp; seeds in tests/fuzz/fuzz_seeds.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pleura::fuzz {

using TargetFn = int (*)(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // also the libFuzzer program's suffix: fuzz_<name>
  TargetFn run;
  const char* summary;
};

// Every target, in a fixed order.
const std::vector<Target>& targets();
// The target called `name`; throws std::invalid_argument naming the known ones.
const Target& target(std::string_view name);

// Small valid inputs of the target's format, made in memory (DICOM of every supported transfer syntax,
// PNG, JPEG, npy, safetensors, CSVs, INI), and, when `source_dir` (the repository) is not empty, test
// fixtures of that format (the real SIIM DICOM, the heads of its label, fold and sample files, configs/).
// Throws std::invalid_argument for an unknown target.
std::vector<std::string> seeds(std::string_view name, const std::string& source_dir);

// A file under $TMPDIR (or /tmp) private to this process and target, holding `bytes`; for the readers
// that take a path. The file is rewritten at every call and removed when the process exits.
const std::string& scratch_file(std::string_view bytes, const std::string& suffix);

// Runs `parse`, swallowing the pleura::Error by which a parser refuses bad input.
void refused_ok(const std::function<void()>& parse);

// Throws std::logic_error with `what` when `ok` is false: a broken invariant (e.g. a round trip that
// changed a value). Not a pleura::Error, so nothing catches it: libFuzzer reports it as a crash (uncaught
// exception) and the replay test as a failure naming the input.
void require(bool ok, const char* what);

}  // namespace pleura::fuzz

// The targets (defined in fuzz_<format>.cpp).
namespace pleura::fuzz {
int fuzz_safetensors(const uint8_t* data, size_t size);
int fuzz_npy(const uint8_t* data, size_t size);
int fuzz_dicom(const uint8_t* data, size_t size);
int fuzz_rle(const uint8_t* data, size_t size);
int fuzz_label_csv(const uint8_t* data, size_t size);
int fuzz_folds_csv(const uint8_t* data, size_t size);
int fuzz_sample_csv(const uint8_t* data, size_t size);
int fuzz_manifest_csv(const uint8_t* data, size_t size);
int fuzz_ini(const uint8_t* data, size_t size);
int fuzz_image(const uint8_t* data, size_t size);
}  // namespace pleura::fuzz
