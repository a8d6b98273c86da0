// The table of fuzz targets and the helpers they share (see fuzz_targets.h).
#include "tests/fuzz/fuzz_targets.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>

#include "engine/error.h"

namespace pleura::fuzz {

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"safetensors", fuzz_safetensors, "safetensors header and tensor table, then a write/read round trip"},
      {"npy", fuzz_npy, ".npy header and data, then a write/read round trip"},
      {"dicom", fuzz_dicom, "the whole DICOM read path (header checks, decoding, 8-bit mapping)"},
      {"rle", fuzz_rle, "SIIM RLE strings in both forms, decoded, re-encoded and decoded again"},
      {"label_csv", fuzz_label_csv, "label and submission CSVs (ImageId,EncodedPixels), masks and self-score"},
      {"folds_csv", fuzz_folds_csv, "fold files (fname,fold,exist_labels)"},
      {"sample_csv", fuzz_sample_csv, "sample submission CSVs (the ImageIds rle_submit writes)"},
      {"manifest_csv", fuzz_manifest_csv, "prepare_data's cache manifest"},
      {"ini", fuzz_ini, "INI text with --set overrides, through the training and inference config readers"},
      {"image", fuzz_image, "PNG and JPEG through the image reader"},
  };
  return all;
}

const Target& target(std::string_view name) {
  std::string known;
  for (const Target& t : targets()) {
    if (t.name == name) return t;
    known += std::string(known.empty() ? "" : ", ") + t.name;
  }
  throw std::invalid_argument("unknown fuzz target '" + std::string(name) + "'; known: " + known);
}

namespace {

struct ScratchFiles {
  std::map<std::string, std::string> paths;  // suffix -> path
  ~ScratchFiles() {
    for (const auto& [suffix, path] : paths) std::remove(path.c_str());
  }
};

}  // namespace

const std::string& scratch_file(std::string_view bytes, const std::string& suffix) {
  static ScratchFiles files;
  std::string& path = files.paths[suffix];
  if (path.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/pleura-fuzz-" +
           std::to_string(::getpid()) + "-" + std::to_string(files.paths.size()) + suffix;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write the scratch file %s\n", path.c_str());
    std::abort();
  }
  return path;
}

void refused_ok(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const Error&) {
    // A clear refusal is what bad input should get.
  }
}

void require(bool ok, const char* what) {
  if (!ok) throw std::logic_error(std::string("fuzz: invariant broken: ") + what);
}

}  // namespace pleura::fuzz
