// The shipped configurations: configs/<experiment>_infer.ini load and hold the values of the solution's
// 2nd_stage_inference YAMLs; configs/<experiment>_submit.ini hold rle_submit's options with the values of
// the 2nd_stage_submit YAMLs, their comment shows the same command line, and rle_submit accepts it.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "tests/tools/tools_testing.h"
#include "infer/infer_options.h"
#include "train/ini.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

namespace {

const std::string kConfigs = std::string(PLEURA_SOURCE_DIR) + "/configs";

struct Expected {
  std::string model, pipeline_name;
  int64_t batch;
  augment::Normalization norm;
  std::vector<std::vector<int64_t>> epochs;  // SELECTED_CHECKPOINTS fold0..fold4
  std::string triplet;                       // TOP_SCORE_THRESHOLD, AREA_THRESHOLD, BOTTOM_SCORE_THRESHOLD
  std::string sub_file;
};

// Transcribed from unet_pipeline/experiments/<experiment>/2nd_stage_inference*.yaml and 2nd_stage_submit.yaml.
// albunet_public's YAML names the pipeline albunet_public while its training YAMLs write albunet_1024 files
// (see the INI's comment).
const std::map<std::string, Expected>& expected() {
  using N = augment::Normalization;
  static const std::map<std::string, Expected> e = {
      {"albunet_valid", {"albunet", "albunet_1024", 2, N::kUnit,
                         {{7, 13, 17}, {3, 5, 14}, {0, 3, 8}, {0, 5, 8}, {16, 24, 25}}, "0.75,800,0.4",
                         "2nd_stage_albunet_valid.csv"}},
      {"albunet_public", {"albunet", "albunet_1024", 2, N::kUnit,
                          {{0, 1, 7}, {5, 6, 12}, {1, 3, 4}, {0, 6, 11}, {4, 13, 20}}, "0.75,800,0.4",
                          "2nd_stage_albunet_public.csv"}},
      {"resnet50", {"resnet50_unet", "resnet50", 1, N::kImagenet,
                    {{4, 5, 9}, {10, 21, 23}, {6, 8, 10}, {0, 2, 45}, {1, 3, 11}}, "0.75,1000,0.4",
                    "2nd_stage_resnet50.csv"}},
      {"seunet", {"scse_unet", "seunet", 1, N::kUnit,
                  {{1, 4, 7}, {14, 15, 16}, {4, 5, 7}, {0, 9, 10}, {3, 10, 13}}, "0.7,1000,0.25",
                  "2nd_stage_seunet.csv"}},
  };
  return e;
}

// rle_submit's command line from a submit INI's [rle_submit] section (key = option name without "--").
std::vector<std::string> submit_args(const std::string& path) {
  IniFile ini = IniFile::load(path);
  std::vector<std::string> args;
  for (const std::string& dir : ini.get_strings("rle_submit", "probs")) args.insert(args.end(), {"--probs", dir});
  for (const char* key : {"triplet", "sample-submission", "out", "rle", "min-component", "height", "width"})
    if (ini.has("rle_submit", key)) args.insert(args.end(), {std::string("--") + key, ini.get_string("rle_submit", key)});
  if (ini.get_bool("rle_submit", "missing-empty", false)) args.push_back("--missing-empty");
  ini.check_all_used();
  return args;
}

// The command shown in the INI's comment (";   rle_submit ..."), split at spaces, without the program name.
std::vector<std::string> commented_command(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find("rle_submit --");
    if (line.rfind(";", 0) != 0 || at == std::string::npos) continue;
    std::istringstream words(line.substr(at));
    std::vector<std::string> out;
    std::string w;
    while (words >> w) out.push_back(w);
    out.erase(out.begin());
    return out;
  }
  return {};
}

}  // namespace

TEST_CASE("configs: the inference INIs load and hold the YAMLs' values") {
  for (const auto& [name, e] : expected()) {
    CAPTURE(name);
    const InferOptions o = load_infer_config(kConfigs + "/" + name + "_infer.ini", {});
    CHECK(o.model == e.model);
    CHECK(o.size == 1024);
    CHECK(o.flip);
    CHECK(o.norm == e.norm);
    CHECK(o.batch == e.batch);
    CHECK(o.device == Device::cuda(0));
    CHECK(o.input == "../input/test_2stage");
    CHECK(o.output == "experiments/" + name + "/result_top3");
    CHECK(o.format == MapFormat::kNpy);
    REQUIRE(o.pipeline);
    CHECK(o.pipeline->path == "experiments/" + name);
    CHECK(o.pipeline->name == e.pipeline_name);
    CHECK(o.pipeline->full_folder == "checkpoints");
    CHECK(o.pipeline->selection == Selection::kEpochs);
    REQUIRE(o.pipeline->epochs.size() == 5);
    for (int64_t k = 0; k < 5; ++k) {
      CHECK(o.pipeline->epochs[static_cast<size_t>(k)].first == k);
      CHECK(o.pipeline->epochs[static_cast<size_t>(k)].second == e.epochs[static_cast<size_t>(k)]);
    }
  }
}

TEST_CASE("configs: the submit INIs give rle_submit's command of their comment, which rle_submit runs") {
  for (const auto& [name, e] : expected()) {
    CAPTURE(name);
    const std::string path = kConfigs + "/" + name + "_submit.ini";
    const std::vector<std::string> args = submit_args(path);
    CHECK(args == commented_command(path));
    CHECK(args == std::vector<std::string>{"--probs", "experiments/" + name + "/result_top3", "--triplet", e.triplet,
                                           "--sample-submission", "../input/stage_2_sample_submission.csv", "--out",
                                           "../subs/" + e.sub_file});
    // The same options on two small maps: only the paths are replaced.
    TempDir dir;
    fs::create_directories(dir.file("probs"));
    write_npy_map(dir.file("probs/ID_a.npy"), 2, 2, {0.9f, 0.8f, 0.1f, 0.0f});
    write_npy_map(dir.file("probs/ID_b.npy"), 2, 2, {0.2f, 0.2f, 0.2f, 0.2f});
    std::ofstream(dir.file("sample.csv")) << "ImageId,EncodedPixels\nID_b,-1\nID_a,-1\n";
    std::vector<std::string> local = args;
    local[1] = dir.file("probs");
    local[5] = dir.file("sample.csv");
    local[7] = dir.file("sub.csv");
    const ToolRun r = run_tool(tools::rle_submit_tool(), local);
    CHECK_MESSAGE(r.code == 0, r.err);
    // Two pixels above TOP are fewer than the area: both images are empty.
    CHECK(read_file(dir.file("sub.csv")) == "ImageId,EncodedPixels\nID_b,-1\nID_a,-1\n");
  }
}
