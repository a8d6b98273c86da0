// The command line of tools/search_triplets (see search.h): argument checks, the search, the reports.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "engine/file_io.h"
#include "data/cli_args.h"
#include "data/progress.h"
#include "eval/search.h"
#include "eval/triplet_args.h"

namespace pleura::eval {

int search_triplets_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  using data::UsageError;
  data::ArgParser parser(
      "search_triplets",
      "Scores (top, area, bottom) triplets on validation probability maps: per image, empty when\n"
      "count(p > top) < area, else the mask p > bottom; the score is the Kaggle metric (per-image dice,\n"
      "empty/empty = 1, averaged over images). Maps: <ImageId>.png (8-bit, p = v/255) or <ImageId>.npy\n"
      "(float32 HxW), all of one size. Truth: --masks (<ImageId>.png, non-zero = pneumothorax) or --labels\n"
      "(RLE decoded at --height x --width); a truth of another size is resized to the maps' size with\n"
      "nearest neighbour (cv2 INTER_NEAREST). Every map needs a truth. Default grid: the 8 triplets of the\n"
      "solution's configs; --tops/--areas/--bottoms give every combination instead (tops outermost). Ties\n"
      "go to the first triplet of the grid.");
  parser.add_value("probs", "DIR", "folder of probability maps", true);
  parser.add_value("masks", "DIR", "truth: folder of <ImageId>.png masks");
  parser.add_value("labels", "CSV", "truth: RLE label file (ImageId,EncodedPixels)");
  parser.add_value("tops", "L", "comma-separated top thresholds, e.g. 0.6,0.75");
  parser.add_value("areas", "L", "comma-separated minimum areas (pixels at the maps' size), e.g. 1000,2000");
  parser.add_value("bottoms", "L", "comma-separated bottom thresholds, e.g. 0.3,0.4");
  parser.add_value("json", "FILE", "also write the scores as JSON (atomically)");
  parser.add_value("rle", "FORM", "RLE form of --labels: siim (relative, default) or standard (absolute)");
  parser.add_value("height", "H", "height the labels are decoded at (default 1024)");
  parser.add_value("width", "W", "width the labels are decoded at (default 1024)");
  std::vector<Triplet> triplets = config_triplets();
  std::string probs_dir, json_path;
  try {
    parser.parse(args);
    if (parser.help_requested()) {
      out << parser.usage();
      return 0;
    }
    if (parser.has("masks") == parser.has("labels")) {
      throw UsageError("give exactly one of --masks DIR and --labels CSV");
    }
    const bool labels = parser.has("labels");
    for (const char* name : {"rle", "height", "width"}) {
      if (parser.has(name) && !labels) throw UsageError(cat("option --", name, " needs --labels"));
    }
    if (parser.has("rle") && parser.value("rle") != "siim" && parser.value("rle") != "standard") {
      throw UsageError(cat("option --rle is '", parser.value("rle"), "', expected siim or standard"));
    }
    const int given = parser.has("tops") + parser.has("areas") + parser.has("bottoms");
    if (given != 0 && given != 3) throw UsageError("options --tops, --areas and --bottoms go together");
    if (given == 3) {
      triplets = triplet_grid(parse_threshold_list("tops", parser.value("tops")),
                              parse_area_list("areas", parser.value("areas")),
                              parse_threshold_list("bottoms", parser.value("bottoms")));
    }
    parser.int_value("height", 1, 16384, 1024);  // checked here, used below
    parser.int_value("width", 1, 16384, 1024);
    probs_dir = parser.value("probs");
    json_path = parser.value("json");
    if (!std::filesystem::is_directory(probs_dir)) throw UsageError(cat("--probs '", probs_dir, "' is not a folder"));
    if (!labels && !std::filesystem::is_directory(parser.value("masks"))) {
      throw UsageError(cat("--masks '", parser.value("masks"), "' is not a folder"));
    }
    if (labels && !std::filesystem::is_regular_file(parser.value("labels"))) {
      throw UsageError(cat("--labels '", parser.value("labels"), "' is not a file"));
    }
  } catch (const UsageError& e) {
    err << "search_triplets: " << e.what() << "\n(run search_triplets --help for usage)\n";
    return 2;
  }
  try {
    const TruthMasks truth =
        parser.has("labels")
            ? TruthMasks::from_labels(parser.value("labels"), data::parse_rle_format(parser.value("rle", "siim")),
                                      parser.int_value("height", 1, 16384, 1024),
                                      parser.int_value("width", 1, 16384, 1024))
            : TruthMasks::from_folder(parser.value("masks"));
    const bool terminal = &err == &std::cerr && data::stderr_is_terminal();
    const FolderSearch s = search_prob_folder(probs_dir, truth, triplets, err, terminal);
    std::ostringstream head;
    head << "search_triplets: " << s.images << " maps of " << s.height << "x" << s.width << " (" << s.positives
         << " with a non-empty truth), " << triplets.size() << " triplets\n";
    out << head.str() << search_table(s.result);
    if (!json_path.empty()) write_file_atomic(json_path, search_json(s.result));
    return 0;
  } catch (const std::exception& e) {
    err << "search_triplets: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pleura::eval
