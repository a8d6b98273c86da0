// search_triplets: scores (top, area, bottom) triplets on validation probability maps (eval/search.h), prints
// the table and optionally writes JSON. Tests: tests/tools/test_search_triplets.cpp.
#include <filesystem>
#include <sstream>

#include "engine/file_io.h"
#include "eval/search.h"
#include "eval/triplet_args.h"
#include "tools/tools.h"

namespace pleura::tools {

namespace {

const char* const kSummary =
    "Scores (top, area, bottom) triplets on validation probability maps: per image, empty when\n"
    "count(p > top) < area, else the mask p > bottom; the score is the Kaggle metric (per-image dice,\n"
    "empty/empty = 1, averaged over images). Maps: <ImageId>.png (8-bit, p = v/255) or <ImageId>.npy\n"
    "(float32 HxW), all of one size. Truth: --masks (<ImageId>.png, non-zero = pneumothorax) or --labels\n"
    "(RLE decoded at --height x --width); a truth of another size is resized to the maps' size with\n"
    "nearest neighbour (cv2 INTER_NEAREST). Every map needs a truth. Default grid: the 8 triplets of the\n"
    "solution's configs; --tops/--areas/--bottoms give every combination instead (tops outermost). Ties\n"
    "go to the first triplet of the grid.";

struct Args {
  std::string probs, masks, labels, tops, areas, bottoms, json;
  std::string rle = "siim";
  int64_t height = 1024, width = 1024;
};

void declare(CLI::App& app, Args& a) {
  app.add_option("--probs", a.probs, "folder of probability maps")->type_name("DIR")->required();
  app.add_option("--masks", a.masks, "truth: folder of <ImageId>.png masks")->type_name("DIR");
  app.add_option("--labels", a.labels, "truth: RLE label file (ImageId,EncodedPixels)")->type_name("CSV");
  app.add_option("--tops", a.tops, "comma-separated top thresholds, e.g. 0.6,0.75")->type_name("L");
  app.add_option("--areas", a.areas, "comma-separated minimum areas (pixels at the maps' size), e.g. 1000,2000")
      ->type_name("L");
  app.add_option("--bottoms", a.bottoms, "comma-separated bottom thresholds, e.g. 0.3,0.4")->type_name("L");
  app.add_option("--json", a.json, "also write the scores as JSON (atomically)")->type_name("FILE");
  app.add_option("--rle", a.rle, "RLE form of --labels: siim (relative, default) or standard (absolute)")
      ->type_name("FORM")
      ->check(one_of({"siim", "standard"}));
  app.add_option("--height", a.height, "height the labels are decoded at (default 1024)")
      ->type_name("H")
      ->check(int_in(1, 16384));
  app.add_option("--width", a.width, "width the labels are decoded at (default 1024)")
      ->type_name("W")
      ->check(int_in(1, 16384));
}

// The options that only make sense together, and the paths that must exist.
void check(const Args& a, const ToolContext& context) {
  const bool labels = context.given("--labels");
  if (context.given("--masks") == labels) throw UsageError("give exactly one of --masks DIR and --labels CSV");
  for (const char* name : {"--rle", "--height", "--width"}) {
    if (context.given(name) && !labels) throw UsageError(cat("option ", name, " needs --labels"));
  }
  const int grid = context.given("--tops") + context.given("--areas") + context.given("--bottoms");
  if (grid != 0 && grid != 3) throw UsageError("options --tops, --areas and --bottoms go together");
  if (!std::filesystem::is_directory(a.probs)) throw UsageError(cat("--probs '", a.probs, "' is not a folder"));
  if (!labels && !std::filesystem::is_directory(a.masks)) {
    throw UsageError(cat("--masks '", a.masks, "' is not a folder"));
  }
  if (labels && !std::filesystem::is_regular_file(a.labels)) {
    throw UsageError(cat("--labels '", a.labels, "' is not a file"));
  }
  if (!a.json.empty()) check_output_file("--json", a.json);
}

std::vector<Triplet> triplets_of(const Args& a, const ToolContext& context) {
  if (!context.given("--tops")) return config_triplets();
  return as_usage([&] {
    return triplet_grid(eval::parse_threshold_list("tops", a.tops), eval::parse_area_list("areas", a.areas),
                        eval::parse_threshold_list("bottoms", a.bottoms));
  });
}

void run(const Args& a, const ToolContext& context) {
  check(a, context);
  const std::vector<Triplet> triplets = triplets_of(a, context);
  const eval::TruthMasks truth =
      context.given("--labels")
          ? eval::TruthMasks::from_labels(a.labels, data::parse_rle_format(a.rle), a.height, a.width)
          : eval::TruthMasks::from_folder(a.masks);
  const eval::FolderSearch s = eval::search_prob_folder(a.probs, truth, triplets, context.err, context.terminal);
  std::ostringstream head;
  head << "search_triplets: " << s.images << " maps of " << s.height << "x" << s.width << " (" << s.positives
       << " with a non-empty truth), " << triplets.size() << " triplets\n";
  context.out << head.str() << eval::search_table(s.result);
  if (!a.json.empty()) write_file_atomic(a.json, eval::search_json(s.result));
}

}  // namespace

Tool search_triplets_tool() { return make_tool("search_triplets", kSummary, OnStop::kExitAtOnce, declare, run); }

}  // namespace pleura::tools
