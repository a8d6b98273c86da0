// The tree's layout rule (README, "Layout"): every top-level folder is one stage of the data path,
// engine -> cpu, cuda -> layers -> models -> data -> train -> infer -> eval -> tools, and a file includes
// only from its own stage or earlier ones; above the engine (layers/ and later) no file includes a
// backend header (cpu/, cuda/): they reach the backends through the engine's ops. tests/ and bench/
// mirror the tree and may include any stage, but no stage includes them.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing.h"

namespace fs = std::filesystem;

namespace {

const std::map<std::string, int> kStages = {{"engine", 0}, {"cpu", 1},   {"cuda", 1},  {"layers", 2}, {"models", 3},
                                            {"data", 4},   {"train", 5}, {"infer", 6}, {"eval", 7},   {"tools", 8}};

// Folders that mirror the stages and may include any of them; no stage may include them.
bool is_mirror(const std::string& folder) { return folder == "tests" || folder == "bench"; }

struct Violation {
  std::string where;  // file:line
  std::string include;
  std::string why;
};

std::string top_folder(const std::string& path) {
  const size_t slash = path.find('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// The violations of one file, given its path from the root ("data/loader.cpp") and its text.
std::vector<Violation> check_file(const std::string& path, const std::string& text) {
  std::vector<Violation> found;
  const auto own = kStages.find(top_folder(path));
  if (own == kStages.end()) return found;  // tests/, bench/ and files outside the stages
  static const std::regex include_line(R"re(^\s*#\s*include\s*"([^"]+)")re");
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    std::smatch m;
    if (!std::regex_search(line, m, include_line)) continue;
    const std::string include = m[1];
    const std::string folder = top_folder(include);
    const std::string where = path + ":" + std::to_string(number);
    if (is_mirror(folder)) {
      found.push_back({where, include, own->first + "/ includes from " + folder + "/, which only mirrors the tree"});
      continue;
    }
    const auto theirs = kStages.find(folder);
    if (theirs == kStages.end()) continue;  // a system or third-party header given with quotes
    if (theirs->second > own->second) {
      found.push_back({where, include, own->first + "/ includes from the later stage " + folder + "/"});
    } else if (own->second >= kStages.at("layers") && (folder == "cpu" || folder == "cuda")) {
      found.push_back({where, include, own->first + "/ includes a backend header (use the engine's ops)"});
    }
  }
  return found;
}

struct TreeCheck {
  std::vector<Violation> violations;
  int files = 0;
};

TreeCheck check_tree(const fs::path& root) {
  TreeCheck result;
  for (const auto& [folder, stage] : kStages) {
    (void)stage;
    for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp" && ext != ".cu" && ext != ".cuh")) continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      const std::string relative = fs::relative(entry.path(), root).generic_string();
      for (Violation& v : check_file(relative, text.str())) result.violations.push_back(std::move(v));
      ++result.files;
    }
  }
  return result;
}

}  // namespace

TEST_CASE("layout: a file includes from its own stage and earlier ones only") {
  CHECK(check_file("train/trainer.cpp", "#include \"data/loader.h\"\n#include \"train/optimizer.h\"\n").empty());
  CHECK(check_file("tools/x.cpp", "#include \"eval/scoring.h\"\n#include \"engine/tensor.h\"\n").empty());
  const auto later = check_file("data/loader.cpp", "// the loader\n#include <vector>\n  #  include \"train/trainer.h\"\n");
  REQUIRE(later.size() == 1);
  CHECK(later[0].where == "data/loader.cpp:3");
  CHECK(later[0].include == "train/trainer.h");
  CHECK(later[0].why.find("later stage train/") != std::string::npos);
  CHECK(check_file("engine/tensor.cpp", "#include \"cpu/blas.h\"\n").size() == 1);
  CHECK(check_file("infer/predict.cpp", "#include \"eval/search.h\"\n").size() == 1);
}

TEST_CASE("layout: above the engine no file includes a backend header") {
  CHECK(check_file("cpu/conv2d.cpp", "#include \"engine/parallel.h\"\n#include \"cpu/blas.h\"\n").empty());
  CHECK(check_file("cuda/conv2d.cu", "#include \"cuda/cuda_check.h\"\n").empty());
  const auto backend = check_file("eval/scoring.cpp", "#include \"engine/parallel.h\"\n#include \"cpu/parallel.h\"\n");
  REQUIRE(backend.size() == 1);
  CHECK(backend[0].where == "eval/scoring.cpp:2");
  CHECK(backend[0].why.find("backend header") != std::string::npos);
  CHECK(check_file("layers/conv.cpp", "#include \"cuda/context.h\"\n").size() == 1);
}

TEST_CASE("layout: no stage includes tests/ or bench/; they may include every stage") {
  CHECK(check_file("train/trainer.cpp", "#include \"tests/testing.h\"\n").size() == 1);
  CHECK(check_file("tools/x.cpp", "#include \"bench/unet_bench.h\"\n").size() == 1);
  CHECK(check_file("tests/data/test_rle.cpp", "#include \"tools/runner.h\"\n#include \"cpu/blas.h\"\n").empty());
  CHECK(check_file("bench/bench_conv_cpu.cpp", "#include \"cpu/blas.h\"\n").empty());
}

TEST_CASE("layout: the whole tree keeps the order of the data path") {
  const TreeCheck tree = check_tree(PLEURA_SOURCE_DIR);
  for (const Violation& v : tree.violations) {
    const std::string line = v.where + ": #include \"" + v.include + "\": " + v.why;
    MESSAGE(line);
  }
  CHECK(tree.violations.empty());
  CHECK(tree.files > 250);  // every stage folder was read (285 files when this was written)
}
