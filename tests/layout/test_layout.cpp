// The tree's layout rule (README, "Layout"): every top-level folder is one stage of the data path,
// engine -> cpu, cuda -> layers -> models -> data -> train -> infer -> eval -> tools, and a file includes
// only from its own stage or earlier ones; above the engine (layers/ and later) no file includes a
// backend header (cpu/, cuda/): they reach the backends through the engine's ops. tests/ and bench/
// mirror the tree and may include any stage, but no stage includes them. And layers/ names no model: the
// registry's names, class names and reference spellings (models/registry.h) appear in no identifier or
// string literal of layers/ (comments may mention them; encoders such as resnet34 are layers' own).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tests/testing.h"

namespace fs = std::filesystem;

namespace {

const std::map<std::string, int> kStages = {{"engine", 0}, {"cpu", 1},   {"cuda", 1},  {"layers", 2}, {"models", 3},
                                            {"data", 4},   {"train", 5}, {"infer", 6}, {"eval", 7},   {"tools", 8}};

// Folders that mirror the stages and may include any of them; no stage may include them.
bool is_mirror(const std::string& folder) { return folder == "tests" || folder == "bench"; }

struct Violation {
  std::string where;  // file:line
  std::string include;  // the include line's file, or the model name found
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

// `text` with its comments blanked out (newlines kept, so line numbers hold); string and character
// literals are kept whole, so that "//" inside one starts no comment.
std::string without_comments(const std::string& text) {
  enum class State { kCode, kLineComment, kBlockComment, kString, kChar };
  State state = State::kCode;
  std::string out = text;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i], next = i + 1 < text.size() ? text[i + 1] : '\0';
    switch (state) {
      case State::kCode:
        if (c == '/' && next == '/') {
          state = State::kLineComment;
          out[i] = ' ';
        } else if (c == '/' && next == '*') {
          state = State::kBlockComment;
          out[i] = out[i + 1] = ' ';
          ++i;
        } else if (c == '"') {
          state = State::kString;
        } else if (c == '\'') {
          state = State::kChar;
        }
        break;
      case State::kLineComment:
        if (c == '\n') state = State::kCode;
        else out[i] = ' ';
        break;
      case State::kBlockComment:
        if (c == '*' && next == '/') {
          state = State::kCode;
          out[i] = out[i + 1] = ' ';
          ++i;
        } else if (c != '\n') {
          out[i] = ' ';
        }
        break;
      case State::kString:
      case State::kChar:
        if (c == '\\') ++i;  // an escaped character, whatever it is
        else if ((c == '"' && state == State::kString) || (c == '\'' && state == State::kChar)) state = State::kCode;
        break;
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The model names that a file of layers/ uses, as whole words (letters, digits, '_'; any case) outside
// comments: in identifiers and inside string literals. `names` in lower case.
std::vector<Violation> model_names_in(const std::string& path, const std::string& text,
                                      const std::vector<std::string>& names) {
  std::vector<Violation> found;
  if (top_folder(path) != "layers") return found;
  static const std::regex word(R"re([A-Za-z0-9_]+)re");
  std::istringstream lines(without_comments(text));
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    for (auto it = std::sregex_iterator(line.begin(), line.end(), word); it != std::sregex_iterator(); ++it) {
      const std::string token = lower(it->str());
      for (const std::string& name : names)
        if (token == name)
          found.push_back({path + ":" + std::to_string(number), it->str(), "layers/ names the model " + name});
    }
  }
  return found;
}

// Every spelling of every registered model, in lower case.
std::vector<std::string> registered_model_names() {
  std::vector<std::string> names;
  for (const pleura::ModelSpec& spec : pleura::model_registry()) {
    names.push_back(lower(spec.name));
    names.push_back(lower(spec.class_name));
    for (const std::string& s : spec.reference_spellings) names.push_back(lower(s));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());  // "albunet" is AlbuNet's name and class
  return names;
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
      for (Violation& v : model_names_in(relative, text.str(), registered_model_names()))
        result.violations.push_back(std::move(v));
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

TEST_CASE("layout: layers/ names no model in an identifier or string literal; comments may") {
  const std::vector<std::string> names = registered_model_names();
  for (const char* n : {"albunet", "resnet50_unet", "scse_unet", "scseunet", "seresnext50", "resnet50unet"})
    CHECK_MESSAGE(std::find(names.begin(), names.end(), n) != names.end(), n);
  CHECK(std::find(names.begin(), names.end(), "resnet50") == names.end());  // an encoder, not a model

  const auto literal =
      model_names_in("layers/state_dict.cpp", "int a;\nconst char* k = \"conv1 (AlbuNet's)\";\n", names);
  REQUIRE(literal.size() == 1);
  CHECK(literal[0].where == "layers/state_dict.cpp:2");
  CHECK(literal[0].include == "AlbuNet");
  CHECK(literal[0].why == "layers/ names the model albunet");
  const auto identifier = model_names_in("layers/x.h", "/* a\n b */ bool SCSE_UNET(int seresnext50);\n", names);
  REQUIRE(identifier.size() == 2);
  CHECK(identifier[0].where == "layers/x.h:2");
  CHECK(identifier[1].include == "seresnext50");
  CHECK(model_names_in("layers/x.h", "bool is_scse_unet_key();\n", names).size() == 0);  // not a whole word
  // Comments, the model's blocks and encoders are fine; "//" inside a string starts no comment.
  CHECK(model_names_in("layers/decoders.h", "// AlbuNet's\nclass AlbuDecoderBlock; /* ScseUnet */\n", names).empty());
  CHECK(model_names_in("layers/pretrained.cpp", "auto a = \"resnet34, resnet50, se_resnext50\";\n", names).empty());
  CHECK(model_names_in("layers/x.cpp", "const char* u = \"a//b\"; int albunet;\n", names).size() == 1);
  CHECK(model_names_in("layers/x.cpp", "const char* u = \"a\\\"b Resnet50Unet\";\n", names).size() == 1);
  CHECK(model_names_in("layers/x.cpp", "char q = '\"'; int albunet;\n", names).size() == 1);
  // Other folders may name models.
  CHECK(model_names_in("models/registry.cpp", "const char* n = \"albunet\";\n", names).empty());
}

TEST_CASE("layout: the whole tree keeps the order of the data path") {
  const TreeCheck tree = check_tree(PLEURA_SOURCE_DIR);
  for (const Violation& v : tree.violations) {
    const std::string line = v.where + ": \"" + v.include + "\": " + v.why;
    MESSAGE(line);
  }
  CHECK(tree.violations.empty());
  CHECK(tree.files > 250);  // every stage folder was read (285 files when this was written)
}
