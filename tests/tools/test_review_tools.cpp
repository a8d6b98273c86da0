// Tests of the tools' --overlays (eval/review.h through tools/infer_unet.cpp, tools/rle_submit.cpp,
// tools/score_submission.cpp): whole runs whose overlay PNGs are decoded back and checked pixel by pixel
// against the maps, thresholds and truth they were made from, index.html's tiles and links, and the usage
// errors (a missing --triplet or --images, companions without --overlays, labels lacking an image).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/eval/eval_testing.h"
#include "tests/infer/infer_testing.h"
#include "tests/tools/tools_testing.h"
#include "engine/file_io.h"
#include "data/image_io.h"
#include "data/rle.h"
#include "eval/overlay.h"
#include "eval/review.h"
#include "eval/submission.h"
#include "eval/triplet_args.h"
#include "infer/inputs.h"
#include "infer/prob_map.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::testing;

namespace {

ToolRun run_infer(const std::vector<std::string>& args) { return run_tool(tools::infer_unet_tool(), args); }

// The image area of an overlay PNG (below its caption band): red on the predicted mask's outline, else
// green on the truth's, else the X-ray's grey. Returns the number of red pixels.
int64_t check_overlay(const std::string& png, const GrayImage& xray, const GrayImage& predicted,
                      const GrayImage* truth) {
  CAPTURE(png);
  const RgbImage back = data::read_png_rgb(png);
  REQUIRE(back.width == xray.width);
  const int64_t band = back.height - xray.height;
  REQUIRE(band >= eval::caption_band_height(1));
  const GrayImage red = eval::mask_outline(predicted);
  const GrayImage green = truth ? eval::mask_outline(*truth) : GrayImage(xray.height, xray.width, 0);
  int64_t bad = 0, reds = 0;
  for (int64_t y = 0; y < xray.height; ++y)
    for (int64_t x = 0; x < xray.width; ++x) {
      const uint8_t v = xray.at(y, x);
      Rgb want = red.at(y, x) ? eval::kPredictedColour : green.at(y, x) ? eval::kTruthColour : Rgb{v, v, v};
      bad += back.at(band + y, x) != want;
      reds += red.at(y, x) != 0;
    }
  CHECK(bad == 0);
  // Some caption text in the top-left corner.
  int64_t text = 0;
  for (int64_t y = 0; y < band; ++y)
    for (int64_t x = 0; x < std::min<int64_t>(back.width, 40); ++x) text += back.at(y, x) == eval::kCaptionColour;
  CHECK(text > 10);
  return reds;
}

// (class, href) of index.html's tiles, in order.
std::vector<std::pair<std::string, std::string>> tiles_of(const std::string& index) {
  const std::string html = read_file(index);
  const std::regex tile(R"re(<a class="tile ([A-Z]+)" href="([^"]*)">)re");
  std::vector<std::pair<std::string, std::string>> tiles;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tile); it != std::sregex_iterator(); ++it)
    tiles.emplace_back((*it)[1], (*it)[2]);
  return tiles;
}

GrayImage rect_mask(int64_t h, int64_t w, int64_t y0, int64_t x0, int64_t y1, int64_t x1) {
  GrayImage m(h, w, 0);
  for (int64_t y = y0; y <= y1; ++y)
    for (int64_t x = x0; x <= x1; ++x) m.at(y, x) = 255;
  return m;
}

std::string rle(const GrayImage& mask) { return data::encode_rle(mask, data::RleFormat::kSiimRelative); }

// Three PNG inputs, one checkpoint, and a truth at 64x64: img_a and img_c positive, img_b empty.
struct InferCase {
  TempDir dir;
  std::string w = dir.file("w.safetensors"), in = dir.file("png"), labels = dir.file("labels.csv");
  std::shared_ptr<Model> model = save_test_albunet(w, 1);
  std::vector<TestImage> images = write_png_inputs(in);
  GrayImage truth_a = rect_mask(64, 64, 10, 12, 40, 50), truth_c = rect_mask(64, 64, 0, 0, 20, 63);
  InferCase() {
    std::ofstream(labels) << "ImageId,EncodedPixels\nimg_a," << rle(truth_a) << "\nimg_b,-1\nimg_c," << rle(truth_c)
                          << "\n";
  }
  std::vector<std::string> args(const std::string& out, std::vector<std::string> extra) const {
    std::vector<std::string> a = {"--model", "albunet", "--weights", w, "--input", in, "--output", out, "--size", "64"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

}  // namespace

TEST_CASE("infer_unet --overlays: every overlay shows the triplet's mask and the truth; index.html worst first") {
  InferCase c;
  const std::string out = c.dir.file("maps"), ov = c.dir.file("overlays");
  // top 0, area 0: never emptied; bottom 0.5 cuts the untrained model's maps (values around 0.5) in parts.
  const Triplet triplet{0.0, 0, 0.5};
  const ToolRun r = run_infer(c.args(out, {"--overlays", ov, "--triplet", "0,0,0.5", "--labels", c.labels,
                                       "--label-size", "64", "--overlay-size", "64"}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("infer_unet: 3 maps written") == 0);
  CHECK(r.out.find("infer_unet: overlays of 3 images in " + ov + " (") != std::string::npos);
  CHECK(testing::last_line(r.out).find("; open " + ov + "/index.html") != std::string::npos);
  int64_t reds = 0;
  std::vector<std::pair<std::string, std::string>> want_classes;
  for (const TestImage& image : c.images) {
    const GrayImage xray = infer::load_input({image.image_id, image.path}, 64);
    const GrayImage predicted = eval::triplet_mask(infer::read_prob_map(out + "/" + image.image_id + ".npy"), triplet);
    const GrayImage truth = image.image_id == "img_a" ? c.truth_a
                            : image.image_id == "img_c" ? c.truth_c
                                                        : GrayImage(64, 64, 0);
    reds += check_overlay(ov + "/" + image.image_id + ".png", xray, predicted, &truth);
  }
  CHECK(reds > 0);  // the check above saw predicted outlines
  const auto tiles = tiles_of(ov + "/index.html");
  REQUIRE(tiles.size() == 3);
  for (const auto& [cls, href] : tiles) CHECK(fs::is_regular_file(ov + "/" + href));
  // img_b has an empty truth and a mask that is never emptied: a false positive, listed first.
  CHECK(tiles[0] == std::pair<std::string, std::string>{"FP", "img_b.png"});
  CHECK(tiles[1].first == "TP");
  CHECK(tiles[2].first == "TP");
}

TEST_CASE("infer_unet --overlays --min-component: the drawn mask is rle_submit's, small components removed") {
  InferCase c;
  const std::string out = c.dir.file("maps"), ov = c.dir.file("overlays");
  REQUIRE(run_infer(c.args(out, {})).code == 0);
  // Cut at the median of img_a's map, so that the masks fall in parts; then the smallest --min-component
  // that removes one of them, so that the test sees a removal.
  std::vector<double> values = infer::read_prob_map(out + "/img_a.npy").to_vector();
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  const std::string triplet = "0,0," + std::to_string(values[values.size() / 2]);
  eval::SubmitOptions options;
  options.triplet = eval::parse_triplet("triplet", triplet);
  options.out_height = options.out_width = 64;
  auto removed_at = [&](int64_t n) {
    options.min_component = n;
    int64_t removed = 0;
    for (const TestImage& image : c.images) {
      int64_t k = 0;
      eval::submission_mask(infer::read_prob_map(out + "/" + image.image_id + ".npy"), options, &k);
      removed += k;
    }
    return removed;
  };
  int64_t n = 2;
  while (n < 4096 && removed_at(n) == 0) n *= 2;
  REQUIRE(removed_at(n) > 0);
  // The maps are there: --resume makes none and draws the overlays.
  const ToolRun r = run_infer(c.args(out, {"--resume", "--overlays", ov, "--triplet", triplet, "--min-component",
                                           std::to_string(n), "--overlay-size", "64"}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  for (const TestImage& image : c.images) {
    const GrayImage predicted =
        eval::submission_mask(infer::read_prob_map(out + "/" + image.image_id + ".npy"), options);
    check_overlay(ov + "/" + image.image_id + ".png", infer::load_input({image.image_id, image.path}, 64), predicted,
                  nullptr);
  }
  const ToolRun lone = run_infer(c.args(c.dir.file("maps2"), {"--min-component", "60"}));
  CHECK(lone.code == 2);
  CHECK(lone.err.find("option --min-component goes with --overlays DIR") != std::string::npos);
}

TEST_CASE("infer_unet --overlays: without labels, only the prediction; with CONFIG.ini too") {
  InferCase c;
  const std::string ov = c.dir.file("ov");
  const ToolRun r =
      run_infer(c.args(c.dir.file("maps"), {"--overlays", ov, "--triplet", "0.99,4096,0.5", "--overlay-size", "48"}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("false positives") == std::string::npos);
  for (const TestImage& image : c.images) {
    // The area 4096 empties every 64x64 map: no outline, the X-ray (read at 48x48) untouched.
    CHECK(check_overlay(ov + "/" + image.image_id + ".png", infer::load_input({image.image_id, image.path}, 48),
                        GrayImage(48, 48, 0), nullptr) == 0);
  }
  for (const auto& [cls, href] : tiles_of(ov + "/index.html")) CHECK(cls == "NEG");

  const std::string ini = c.dir.file("infer.ini");
  std::ofstream(ini) << "[data]\ninput = " << c.in << "\nsize = 64\n[model]\nname = albunet\n[checkpoints]\nweights = "
                     << c.w << "\n[output]\ndir = " << c.dir.file("maps2") << "\n";
  const ToolRun r2 = run_infer({ini, "--overlays", c.dir.file("ov2"), "--triplet", "0.5,10,0.5"});
  REQUIRE_MESSAGE(r2.code == 0, r2.err);
  CHECK(tiles_of(c.dir.file("ov2/index.html")).size() == 3);
}

TEST_CASE("infer_unet --overlays: usage errors exit 2 before any map; labels lacking an image exit 1 first") {
  InferCase c;
  const std::string out = c.dir.file("maps"), ov = c.dir.file("ov");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--overlays", ov}, "option --overlays needs --triplet TOP,AREA,BOTTOM"},
      {{"--triplet", "0.5,0,0.5"}, "option --triplet goes with --overlays DIR"},
      {{"--labels", c.labels}, "option --labels goes with --overlays DIR"},
      {{"--overlays", ov, "--triplet", "0.5,0"}, "triplet"},
      {{"--overlays", ov, "--triplet", "0.5,0,0.5", "--labels", c.dir.file("nope.csv")}, "nope.csv' does not exist"},
      {{"--overlays", ov, "--triplet", "0.5,0,0.5", "--label-size", "64"}, "option --label-size goes with --labels"},
      {{"--overlays", out + "/", "--triplet", "0.5,0,0.5"}, "is the maps' folder"},
  };
  for (const auto& [extra, message] : cases) {
    CAPTURE(message);
    const ToolRun r = run_infer(c.args(out, extra));
    CHECK(r.code == 2);
    CHECK_MESSAGE(r.err.find(message) != std::string::npos, r.err);
  }
  std::ofstream(c.dir.file("short.csv")) << "ImageId,EncodedPixels\nimg_a,-1\n";
  const ToolRun r = run_infer(c.args(
      out, {"--overlays", ov, "--triplet", "0.5,0,0.5", "--labels", c.dir.file("short.csv"), "--label-size", "64"}));
  CHECK(r.code == 1);
  CHECK_MESSAGE(r.err.find("2 image(s) of " + c.in + " have no row in labels " + c.dir.file("short.csv") +
                           " (img_b, img_c)") != std::string::npos, r.err);
  CHECK(!fs::exists(out));
  CHECK(!fs::exists(ov));
}

namespace {

// rle_submit's and score_submission's case: 4x4 maps, 8x8 X-rays and truth.
struct SubmitCase {
  TempDir dir;
  std::string probs = dir.file("probs"), images = dir.file("images"), sample = dir.file("sample.csv"),
              labels = dir.file("truth.csv"), sub = dir.file("sub.csv");
  GrayImage truth_m1 = rect_mask(8, 8, 0, 0, 3, 3);
  SubmitCase() {
    fs::create_directories(probs);
    fs::create_directories(images);
    write_npy_map(probs + "/m1.npy", 4, 4, {0.9f, 0.8f, 0.1f, 0, 0.6f, 0.7f, 0.2f, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    write_npy_map(probs + "/m2.npy", 4, 4, std::vector<float>(16, 0.1f));
    write_npy_map(probs + "/m3.npy", 4, 4, {0, 0, 0, 0, 0, 0.9f, 0.9f, 0, 0, 0.9f, 0.9f, 0, 0, 0, 0, 0});
    for (int k = 1; k <= 3; ++k)
      data::write_png_gray(images + "/m" + std::to_string(k) + ".png", random_gray(8, 8, 20 + k));  // seeds 21-23
    std::ofstream(sample) << "ImageId,EncodedPixels\nm1,-1\nm2,-1\nm3,-1\n";
    // m1 positive where predicted, m2 empty (TN), m3 empty but predicted (FP).
    std::ofstream(labels) << "ImageId,EncodedPixels\nm1," << rle(truth_m1) << "\nm2,-1\nm3,-1\n";
  }
};

}  // namespace

TEST_CASE("rle_submit --overlays: the submitted masks at the submission's size, the truth, worst first") {
  SubmitCase c;
  const std::string ov = c.dir.file("ov");
  const ToolRun r = run_tool(tools::rle_submit_tool(),
                             {"--probs", c.probs, "--triplet", "0.5,1,0.5", "--sample-submission", c.sample, "--out",
                              c.sub, "--height", "8", "--width", "8", "--overlays", ov, "--images", c.images,
                              "--labels", c.labels});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(last_line(r.out) == "rle_submit: overlays of 3 images in " + ov +
                                " (1 false positives, 0 false negatives); open " + ov + "/index.html");
  eval::SubmitOptions options;
  options.triplet = {0.5, 1, 0.5};
  options.out_height = options.out_width = 8;
  for (const char* id : {"m1", "m2", "m3"}) {
    const GrayImage predicted = eval::submission_mask(infer::read_prob_map(c.probs + "/" + id + ".npy"), options);
    // The submitted CSV's mask is the one drawn.
    const GrayImage truth = std::string(id) == "m1" ? c.truth_m1 : GrayImage(8, 8, 0);
    check_overlay(ov + "/" + id + ".png", data::read_image_gray(c.images + "/" + id + ".png"), predicted, &truth);
  }
  const auto tiles = tiles_of(ov + "/index.html");
  REQUIRE(tiles.size() == 3);
  CHECK(tiles[0] == std::pair<std::string, std::string>{"FP", "m3.png"});
  CHECK(tiles[1] == std::pair<std::string, std::string>{"TP", "m1.png"});
  CHECK(tiles[2] == std::pair<std::string, std::string>{"TN", "m2.png"});

  const std::vector<std::pair<std::vector<std::string>, std::string>> usage = {
      {{"--overlays", ov}, "option --overlays needs --images DIR"},
      {{"--images", c.images}, "option --images goes with --overlays DIR"},
      {{"--overlays", ov, "--images", c.dir.file("none")}, "none' is not a folder"},
      {{"--overlays", c.probs, "--images", c.images}, "is a --probs folder"},
  };
  for (const auto& [extra, message] : usage) {
    std::vector<std::string> args = {"--probs", c.probs, "--triplet", "0.5,1,0.5", "--sample-submission", c.sample,
                                     "--out", c.dir.file("other.csv")};
    args.insert(args.end(), extra.begin(), extra.end());
    const ToolRun u = run_tool(tools::rle_submit_tool(), args);
    CHECK(u.code == 2);
    CHECK_MESSAGE(u.err.find(message) != std::string::npos, u.err);
  }
}

TEST_CASE("score_submission --overlays: the submission against the truth; the JSON line stays last") {
  SubmitCase c;
  const GrayImage m1 = rect_mask(8, 8, 0, 0, 3, 1);  // half of the truth: dice 2*8/(8+16)
  std::ofstream(c.sub) << "ImageId,EncodedPixels\nm1," << rle(m1) << "\nm2,-1\nm3,-1\n";
  const std::string ov = c.dir.file("ov");
  const ToolRun r = run_tool(tools::score_submission_tool(), {c.sub, c.labels, "--height", "8", "--width", "8",
                                                              "--json", "--overlays", ov, "--images", c.images});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(last_line(r.out).rfind("{\"kaggle_dice\":", 0) == 0);
  CHECK(r.err.find("score_submission: overlays of 3 images in " + ov + " (0 false positives, 0 false negatives)") !=
        std::string::npos);
  check_overlay(ov + "/m1.png", data::read_image_gray(c.images + "/m1.png"), m1, &c.truth_m1);
  const std::string html = read_file(ov + "/index.html");
  CHECK(html.find("m1<br>TP dice 0.667 p -") != std::string::npos);
  const auto tiles = tiles_of(ov + "/index.html");
  REQUIRE(tiles.size() == 3);
  CHECK(tiles[0].second == "m1.png");

  const ToolRun u = run_tool(tools::score_submission_tool(), {c.sub, c.labels, "--overlays", ov});
  CHECK(u.code == 2);
  CHECK(u.err.find("option --overlays needs --images DIR") != std::string::npos);
}
