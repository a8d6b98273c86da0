// Tests of tools/search_triplets through the runner (tools/search_triplets.cpp, tools/runner.h): a grid
// worked by hand with its table and JSON, the streamed fast scores equal to the brute force (masks +
// metric) on random maps (npy and png, truth from masks and from labels at another size), and every error
// path.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/file_io.h"
#include "engine/npy.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "tests/tools/tools_testing.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "data/rle.h"
#include "infer/prob_map.h"
#include "eval/search.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

namespace {

ToolRun run(const std::vector<std::string>& args) { return run_tool(tools::search_triplets_tool(), args); }

// Two 4x4 maps and their masks: a has 4 truth pixels (the top-left 2x2 square), b none.
struct HandCase {
  TempDir dir;
  std::string probs = dir.file("probs"), masks = dir.file("masks");
  HandCase() {
    fs::create_directories(probs);
    fs::create_directories(masks);
    write_npy_map(probs + "/a.npy", 4, 4,
                  {0.9f, 0.8f, 0.2f, 0.0f, 0.7f, 0.5f, 0.2f, 0.0f, 0.3f, 0.2f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f});
    std::vector<float> b(16, 0.1f);
    b[15] = 0.95f;
    write_npy_map(probs + "/b.npy", 4, 4, b);
    GrayImage ma(4, 4, 0);
    ma.at(0, 0) = ma.at(0, 1) = ma.at(1, 0) = ma.at(1, 1) = 255;
    data::write_png_gray(masks + "/a.png", ma);
    data::write_png_gray(masks + "/b.png", GrayImage(4, 4, 0));
    data::write_png_gray(masks + "/unused.png", GrayImage(4, 4, 255));  // a truth without a map is fine
  }
};

}  // namespace

TEST_CASE("search_triplets: a grid worked by hand, its table and its JSON") {
  HandCase c;
  const std::string json = c.dir.file("out.json");
  ToolRun r = run({"--probs", c.probs, "--masks", c.masks, "--tops", "0.6,0.85", "--areas", "1,3", "--bottoms",
                   "0.45,0.4,0.6", "--json", json});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // Map a: 3 pixels > 0.6 (0.9, 0.8, 0.7), 1 > 0.85; 4 pixels > 0.45 and > 0.4 (the truth square: dice 1),
  // 3 > 0.6 (dice (6 + e)/(7 + e) = 0.857143). Map b (empty truth): 1 pixel > 0.6 and > 0.85 (0.95), the
  // same pixel > every bottom: kept, dice e/(1 + e) ~ 0; dropped (area 3), dice 1. e = 1e-6.
  const double e = 1e-6, full = (8 + e) / (8 + e), six7 = (6 + e) / (7 + e), fp = e / (1 + e), fn = e / (4 + e);
  const std::vector<double> expected{
      (full + fp) / 2, (full + fp) / 2, (six7 + fp) / 2,  // 0.6, 1: both kept
      (full + 1) / 2,  (full + 1) / 2,  (six7 + 1) / 2,   // 0.6, 3: b dropped; 0.45 and 0.4 tie at 1
      (full + fp) / 2, (full + fp) / 2, (six7 + fp) / 2,  // 0.85, 1: both kept
      (fn + 1) / 2,    (fn + 1) / 2,    (fn + 1) / 2,     // 0.85, 3: both dropped (a has 1 < 3)
  };
  CHECK(r.out ==
        "search_triplets: 2 maps of 4x4 (1 with a non-empty truth), 12 triplets\n"
        "     top      area    bottom     score\n"
        "     0.6         1      0.45  0.500000\n"
        "     0.6         1       0.4  0.500000\n"
        "     0.6         1       0.6  0.428572\n"
        "     0.6         3      0.45  1.000000  <- best\n"
        "     0.6         3       0.4  1.000000\n"
        "     0.6         3       0.6  0.928571\n"
        "    0.85         1      0.45  0.500000\n"
        "    0.85         1       0.4  0.500000\n"
        "    0.85         1       0.6  0.428572\n"
        "    0.85         3      0.45  0.500000\n"
        "    0.85         3       0.4  0.500000\n"
        "    0.85         3       0.6  0.500000\n"
        "best: top 0.6, area 3, bottom 0.45, score 1.000000\n");
  const std::vector<std::string> triplets{"[0.6,1,0.45]",  "[0.6,1,0.4]",  "[0.6,1,0.6]",  "[0.6,3,0.45]",
                                          "[0.6,3,0.4]",   "[0.6,3,0.6]",  "[0.85,1,0.45]", "[0.85,1,0.4]",
                                          "[0.85,1,0.6]",  "[0.85,3,0.45]", "[0.85,3,0.4]", "[0.85,3,0.6]"};
  std::string grid;
  for (size_t k = 0; k < triplets.size(); ++k) {
    // The score as nlohmann-json writes a double: equal strings mean equal doubles.
    grid += cat(k ? "," : "", "{\"triplet\":", triplets[k], ",\"score\":", nlohmann::json(expected[k]).dump(), "}");
  }
  CHECK(read_file(json) == cat("{\"grid\":[", grid, "],\"best\":{\"triplet\":[0.6,3,0.45],\"score\":1.0}}\n"));
}

TEST_CASE("search_triplets: the default grid is the configs' 8 triplets") {
  HandCase c;
  ToolRun r = run({"--probs", c.probs, "--masks", c.masks});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("8 triplets\n") != std::string::npos);
  CHECK(r.out.find("    0.75      1000       0.3  ") != std::string::npos);
  CHECK(r.out.find("     0.6      3000       0.4  ") != std::string::npos);
  // Every area >= 1000 empties both 4x4 maps: a scores e/(4+e), b scores 1; all tie, the first wins.
  CHECK(r.out.find("best: top 0.75, area 1000, bottom 0.3, score 0.500000\n") != std::string::npos);
}

TEST_CASE("search_triplets: fast scores equal the brute force on random maps") {
  for (uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    TempDir dir;
    const std::string probs = dir.file("probs"), masks = dir.file("masks");
    fs::create_directories(probs);
    fs::create_directories(masks);
    const int64_t n = 7, H = 40, W = 40;  // the tool streams them in one batch of 16; batches of 2 below
    Tensor scores = Tensor::empty({n, 1, H, W}), truth = Tensor::empty({n, 1, H, W}), truth_half = Tensor::empty({n, 1, H, W});
    std::string labels = "ImageId,EncodedPixels\n";
    for (int64_t i = 0; i < n; ++i) {
      const std::string id = cat("img", i);
      const Tensor map = smooth_random_map(H, W, seed * 100 + i);
      if (i % 2) {  // half the maps as 8-bit PNGs: the search sees them as read back (v/255)
        GrayImage png(H, W, 0);
        for (int64_t k = 0; k < H * W; ++k) png.pixels[k] = static_cast<uint8_t>(std::lround(map.data<float>()[k] * 255));
        data::write_png_gray(probs + "/" + id + ".png", png);
      } else {
        write_npy(probs + "/" + id + ".npy", map);
      }
      const Tensor read = infer::read_prob_map(probs + "/" + id + (i % 2 ? ".png" : ".npy"));
      std::copy_n(read.data<float>(), H * W, scores.data<float>() + i * H * W);
      // Truth: random blobs, one image empty. Folder at 40x40; labels at 80x80 (nearest to 40x40).
      const GrayImage mask = i == 3 ? GrayImage(H, W, 0) : random_mask(H, W, seed * 10 + i, 0.15);
      data::write_png_gray(masks + "/" + id + ".png", mask);
      const GrayImage big = i == 3 ? GrayImage(80, 80, 0) : random_mask(80, 80, seed * 10 + i, 0.15);
      labels += cat(id, ",", data::encode_rle(big, data::RleFormat::kAbsolute), "\n");
      const GrayImage half = data::resize_nearest(big, H, W);
      for (int64_t k = 0; k < H * W; ++k) {
        truth.data<float>()[i * H * W + k] = mask.pixels[k] ? 1.0f : 0.0f;
        truth_half.data<float>()[i * H * W + k] = half.pixels[k] ? 1.0f : 0.0f;
      }
    }
    write_file_atomic(dir.file("labels.csv"), labels);
    const std::vector<Triplet> grid = triplet_grid({0.4, 0.55, 0.7}, {0, 20, 150}, {0.2, 0.35, 0.5});
    const std::vector<std::string> grid_args{"--tops", "0.4,0.55,0.7", "--areas", "0,20,150", "--bottoms", "0.2,0.35,0.5"};
    auto with = [&](std::vector<std::string> a) {
      a.insert(a.end(), grid_args.begin(), grid_args.end());
      return a;
    };
    ToolRun r = run(with({"--probs", probs, "--masks", masks, "--json", dir.file("a.json")}));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const TripletSearchResult brute = search_triplets_brute_force(scores, truth, grid);
    CHECK(read_file(dir.file("a.json")) == search_json(brute));
    CHECK(r.out.find(search_table(brute)) != std::string::npos);
    ToolRun l = run(with({"--probs", probs, "--labels", dir.file("labels.csv"), "--rle", "standard", "--height", "80",
                          "--width", "80", "--json", dir.file("b.json")}));
    REQUIRE_MESSAGE(l.code == 0, l.err);
    CHECK(read_file(dir.file("b.json")) == search_json(search_triplets_brute_force(scores, truth_half, grid)));
    // Streaming in batches of 2 (the last one short) gives the same scores as one batch.
    std::ostringstream log;
    const FolderSearch s = search_prob_folder(probs, TruthMasks::from_folder(masks), grid, log, false, 2);
    CHECK(s.result.scores == brute.scores);
    CHECK(s.images == n);
    CHECK(s.positives == n - 1);
  }
}

TEST_CASE("search_triplets: usage errors exit 2 with a clear message") {
  HandCase c;
  CHECK(run({"--help"}).code == 0);
  CHECK(run({"--help"}).out.find("usage: search_triplets --probs DIR") != std::string::npos);
  auto usage_error = [&](const std::vector<std::string>& args, const std::string& part) {
    ToolRun r = run(args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(part) != std::string::npos);
    CHECK(r.err.find("(run search_triplets --help for usage)") != std::string::npos);
  };
  usage_error({}, "missing required option --probs DIR");
  usage_error({"--probs", c.probs}, "give exactly one of --masks DIR and --labels CSV");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--labels", "x.csv"}, "give exactly one of");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--tops", "0.5"}, "--tops, --areas and --bottoms go together");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--tops", "0.5,x", "--areas", "1", "--bottoms", "0.3"},
              "option --tops '0.5,x': 'x' is not a number");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--tops", "0.5", "--areas", "1.5", "--bottoms", "0.3"},
              "'1.5' is not an integer area");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--rle", "siim"}, "option --rle needs --labels");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--height", "512"}, "option --height needs --labels");
  usage_error({"--probs", c.probs, "--labels", c.dir.file("l.csv"), "--rle", "zig"}, "--rle is 'zig', expected siim or standard");
  usage_error({"--probs", c.probs, "--labels", c.dir.file("l.csv"), "--width", "0"}, "--width is 0, expected 1..16384");
  usage_error({"--probs", c.probs, "--labels", c.dir.file("l.csv")}, "--labels '" + c.dir.file("l.csv") + "' is not a file");
  usage_error({"--probs", c.dir.file("none"), "--masks", c.masks}, "is not a folder");
  usage_error({"--probs", c.probs, "--masks", c.dir.file("none")}, "--masks '" + c.dir.file("none") + "' is not a folder");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--top", "0.5"}, "unknown option --top");
  usage_error({"--probs", c.probs, "--masks"}, "option --masks needs a value (DIR)");
  usage_error({"--probs", c.probs, "--masks", c.masks, "extra"}, "unexpected argument 'extra'");
  usage_error({"--probs", c.probs, "--masks", c.masks, "--json", c.dir.file("none/s.json")},
              "--json '" + c.dir.file("none/s.json") + "': its folder " + c.dir.file("none") + " does not exist");
}

TEST_CASE("search_triplets: failures exit 1 naming the ids, files and lines; no JSON is left behind") {
  HandCase c;
  const std::string json = c.dir.file("out.json");
  auto failure = [&](const std::vector<std::string>& args, const std::vector<std::string>& parts) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--json", json});
    ToolRun r = run(a);
    CAPTURE(r.err);
    CHECK(r.code == 1);
    CHECK(r.err.find("search_triplets: error: ") != std::string::npos);  // after any progress lines
    for (const std::string& p : parts) CHECK(r.err.find(p) != std::string::npos);
    CHECK_FALSE(fs::exists(json));
  };
  // Maps without a truth: every one listed.
  write_npy_map(c.probs + "/c.npy", 4, 4, std::vector<float>(16, 0.5f));
  write_npy_map(c.probs + "/d.npy", 4, 4, std::vector<float>(16, 0.5f));
  failure({"--probs", c.probs, "--masks", c.masks}, {"2 of the 4 maps in " + c.probs + " have no truth in mask folder " + c.masks + ": c, d"});
  // A map of another size.
  data::write_png_gray(c.masks + "/c.png", GrayImage(4, 4, 0));
  data::write_png_gray(c.masks + "/d.png", GrayImage(4, 4, 0));
  write_npy_map(c.probs + "/d.npy", 2, 8, std::vector<float>(16, 0.5f));
  failure({"--probs", c.probs, "--masks", c.masks}, {c.probs + "/d.npy: map of 2x8, but " + c.probs + "/a.npy is 4x4"});
  fs::remove(c.probs + "/d.npy");
  // A map that is not a probability.
  write_npy_map(c.probs + "/c.npy", 4, 4, std::vector<float>(16, 2.0f));
  failure({"--probs", c.probs, "--masks", c.masks}, {c.probs + "/c.npy: pixel (y 0, x 0) holds 2"});
  fs::remove(c.probs + "/c.npy");
  // Malformed labels: file and line.
  std::ofstream(c.dir.file("l.csv")) << "ImageId,EncodedPixels\na,0 4\nb,1 2 3\n";
  failure({"--probs", c.probs, "--labels", c.dir.file("l.csv"), "--height", "4", "--width", "4"},
          {c.dir.file("l.csv") + ":3", "odd count of numbers"});
  std::ofstream(c.dir.file("l2.csv")) << "ImageId,EncodedPixels\na,0 4\nb,10 40\n";
  failure({"--probs", c.probs, "--labels", c.dir.file("l2.csv"), "--height", "4", "--width", "4"},
          {c.dir.file("l2.csv") + ":3 (b)", "only 16 pixels"});
  // An empty folder.
  fs::create_directories(c.dir.file("empty"));
  failure({"--probs", c.dir.file("empty"), "--masks", c.masks}, {"no <ImageId>.png or <ImageId>.npy file in"});
}
