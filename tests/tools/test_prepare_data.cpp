// Tests of tools/prepare_data through the runner (tools/prepare_data.cpp over data/prepare.h,
// tools/runner.h): a SIIM-style tree with the real SIIM DICOM, generated DICOMs and a PNG; resized
// images and masks equal to the library's own resize of the decoded sources; the manifest; folds;
// resuming, also after a SIGINT and after a source changed; an --out inside --images; and the errors a user
// can make.
#include <chrono>
#include <csignal>
#include <filesystem>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/tools/tools_testing.h"
#include "data/dicom.h"
#include "data/dicom_write.h"
#include "data/folds.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "data/resize.h"
#include "data/rle.h"
#include "data/rle_csv.h"
#include "tools/tools.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::data;
using namespace pleura::testing;

namespace {

const std::string kSiimId = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819";

using Run = ToolRun;

Run run(const std::vector<std::string>& args) { return run_tool(tools::prepare_data_tool(), args); }

// A small SIIM-style tree: the real 1024x1024 DICOM, two 80x80 generated ones and a 60x60 PNG, with
// labels for all four (the real image and one generated image positive).
struct Tree {
  TempDir dir;
  std::string images = dir.file("dicom-images-train"), labels = dir.file("train-rle.csv");
  GrayImage siim_mask = random_mask(1024, 1024, 1, 0.02);
  GrayImage gen_mask = random_mask(80, 80, 2, 0.1);
  Tree() {
    fs::create_directories(images + "/study1/series1");
    fs::create_directories(images + "/study2/series2");
    fs::copy_file(std::string(PLEURA_FIXTURES_DIR) + "/siim/" + kSiimId + ".dcm",
                  images + "/study1/series1/" + kSiimId + ".dcm");
    DicomWriteOptions o;
    o.study_instance_uid = "2.25.10";
    o.series_instance_uid = "2.25.11";
    for (const char* id : {"2.25.100", "2.25.101"}) {
      o.sop_instance_uid = id;
      write_dicom_gray8(images + "/study2/series2/" + id + ".dcm", random_gray(80, 80, 3), o);
    }
    write_png_gray(images + "/study2/extra.png", random_gray(60, 60, 4));
    write_rle_csv(labels, {{kSiimId, encode_rle(siim_mask, RleFormat::kSiimRelative)},
                           {"2.25.100", "-1"},
                           {"2.25.101", encode_rle(gen_mask, RleFormat::kSiimRelative)},
                           {"extra", "-1"}},
                  RleCsvStyle::kSiimTrain);
  }
};

}  // namespace

TEST_CASE("prepare_data: images, masks and manifest from a SIIM-style tree") {
  Tree t;
  const std::string out = t.dir.file("out");
  Run r = run({"--images", t.images, "--labels", t.labels, "--out", out, "--size", "32", "--threads", "2",
               "--folds", "2", "--seed", "5"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("4 images") != std::string::npos);
  CHECK(r.out.find("4 written") != std::string::npos);
  CHECK(r.out.find("2 with a mask") != std::string::npos);
  // Each image is the decoded source resized as cv2.resize(INTER_LINEAR) would; each mask the decoded
  // labels resized with nearest neighbour.
  CHECK(read_image_gray(out + "/images/" + kSiimId + ".png").pixels ==
        resize_bilinear(read_dicom(t.images + "/study1/series1/" + kSiimId + ".dcm"), 32, 32).pixels);
  CHECK(read_image_gray(out + "/masks/" + kSiimId + ".png").pixels == resize_nearest(t.siim_mask, 32, 32).pixels);
  CHECK(read_image_gray(out + "/images/2.25.101.png").pixels ==
        resize_bilinear(read_dicom(t.images + "/study2/series2/2.25.101.dcm"), 32, 32).pixels);
  CHECK(read_image_gray(out + "/masks/2.25.101.png").pixels == resize_nearest(t.gen_mask, 32, 32).pixels);
  CHECK(read_image_gray(out + "/images/extra.png").pixels ==
        resize_bilinear(read_image_gray(t.images + "/study2/extra.png"), 32, 32).pixels);
  const GrayImage empty_mask = read_image_gray(out + "/masks/2.25.100.png");
  CHECK(std::count(empty_mask.pixels.begin(), empty_mask.pixels.end(), 0) == 32 * 32);

  std::vector<ManifestRow> rows = read_manifest(out + "/manifest.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].image_id == kSiimId);  // sorted by ImageId: "1.2..." < "2.25..." < "extra"
  CHECK(rows[0].source == t.images + "/study1/series1/" + kSiimId + ".dcm");
  CHECK(rows[0].source_height == 1024);
  CHECK(rows[0].height == 32);
  CHECK(rows[0].has_mask == true);
  const GrayImage written_mask = read_image_gray(out + "/masks/" + kSiimId + ".png");
  CHECK(rows[0].mask_pixels == std::count(written_mask.pixels.begin(), written_mask.pixels.end(), 255));
  CHECK(rows[0].mask_pixels > 0);
  CHECK(rows[1].image_id == "2.25.100");
  CHECK(rows[1].has_mask == false);
  CHECK(rows[3].image_id == "extra");
  CHECK(rows[3].source_width == 60);
  Folds folds = read_folds(out + "/folds_2.csv");
  CHECK(folds.entries.size() == 4);
  CHECK_NOTHROW(check_folds(folds, RleLabels::read(t.labels, RleFormat::kSiimRelative), out + "/images"));
}

TEST_CASE("prepare_data: same outputs with 1 and 3 threads; without labels no masks") {
  Tree t;
  REQUIRE(run({"--images", t.images, "--labels", t.labels, "--out", t.dir.file("a"), "--size", "40", "--threads", "1"}).code == 0);
  REQUIRE(run({"--images", t.images, "--labels", t.labels, "--out", t.dir.file("b"), "--size", "40", "--threads", "3"}).code == 0);
  for (const std::string sub : {"images", "masks"}) {
    for (const auto& e : fs::directory_iterator(t.dir.file("a/" + sub))) {
      CHECK(slurp(e.path().string()) == slurp(t.dir.file("b/" + sub + "/" + e.path().filename().string())));
    }
  }
  CHECK(slurp(t.dir.file("a/manifest.csv")) == slurp(t.dir.file("b/manifest.csv")));
  Run r = run({"--images", t.images, "--out", t.dir.file("c"), "--size", "16"});
  REQUIRE(r.code == 0);
  CHECK(!fs::exists(t.dir.file("c/masks")));
  std::vector<ManifestRow> rows = read_manifest(t.dir.file("c/manifest.csv"));
  REQUIRE(rows.size() == 4);
  CHECK(!rows[0].has_mask.has_value());
  // An ImageId that is a path (infer_unet would write <output>/<ImageId>.npy outside its folder).
  std::string text = slurp(t.dir.file("c/manifest.csv"));
  text.replace(text.find('\n') + 1, rows[0].image_id.size(), "../../x");
  write_file_atomic(t.dir.file("c/manifest.csv"), text);
  expect_error([&] { read_manifest(t.dir.file("c/manifest.csv")); },
               {t.dir.file("c/manifest.csv") + ":2", "ImageId '../../x' holds '/'"});
  // A size of 0 (found by tests/fuzz: the manifest reader let it through).
  write_file_atomic(t.dir.file("c/manifest.csv"), "ImageId,source,height,width,source_height,source_width,has_mask,"
                                                 "mask_pixels\na,a.dcm,0,16,64,64,,\n");
  expect_error([&] { read_manifest(t.dir.file("c/manifest.csv")); },
               {t.dir.file("c/manifest.csv") + ":2", "field 3 '0' is not a size (a whole number >= 1)"});
}

TEST_CASE("prepare_data: a rerun resumes (finished files untouched), refuses another size") {
  Tree t;
  const std::string out = t.dir.file("out");
  const std::vector<std::string> args = {"--images", t.images, "--labels", t.labels, "--out", out, "--size", "24"};
  REQUIRE(run(args).code == 0);
  const auto stamp = fs::last_write_time(out + "/images/2.25.100.png");
  const std::string manifest = slurp(out + "/manifest.csv");
  fs::remove(out + "/images/2.25.101.png");  // as if the run had been killed before this image
  write_file_atomic(out + "/images/x.png.tmp.99999999", "half-written");  // a pid no process can have
  Run again = run(args);
  REQUIRE_MESSAGE(again.code == 0, again.err);
  CHECK(again.out.find("1 written, 3 already there") != std::string::npos);
  CHECK(fs::last_write_time(out + "/images/2.25.100.png") == stamp);
  CHECK(fs::exists(out + "/images/2.25.101.png"));
  CHECK(!fs::exists(out + "/images/x.png.tmp.99999999"));  // stale temporaries are cleared
  CHECK(slurp(out + "/manifest.csv") == manifest);    // the rebuilt manifest is the same
  std::vector<std::string> other = args;
  other.back() = "48";
  Run bad = run(other);
  CHECK(bad.code == 1);
  CHECK(bad.err.find("earlier run with size 24x24, but --size is 48") != std::string::npos);
  // A changed label file: the masks on disk were made from the old one, so the rerun is refused (it
  // kept them before: "0 written, 4 already there"). The same labels still resume.
  const std::string old_labels = slurp(t.labels);
  write_file_atomic(t.labels, old_labels + "\n");
  Run changed = run(args);
  CHECK(changed.code == 1);
  CHECK_MESSAGE(changed.err.find("prepare_record.txt: this cache was made from other labels") != std::string::npos,
                changed.err);
  CHECK(changed.err.find("give another --out") != std::string::npos);
  write_file_atomic(t.labels, old_labels);
  CHECK(run(args).code == 0);
}

TEST_CASE("prepare_data: a source changed after its cached image was written is made again on a rerun") {
  Tree t;
  const std::string out = t.dir.file("out");
  const std::vector<std::string> args = {"--images", t.images, "--labels", t.labels, "--out", out, "--size", "24"};
  REQUIRE(run(args).code == 0);
  const std::string cached = out + "/images/2.25.100.png", source = t.images + "/study2/series2/2.25.100.dcm";
  const GrayImage before = read_image_gray(cached);
  DicomWriteOptions o;
  o.study_instance_uid = "2.25.10";
  o.series_instance_uid = "2.25.11";
  o.sop_instance_uid = "2.25.100";
  const GrayImage replacement = random_gray(80, 80, 77);
  write_dicom_gray8(source, replacement, o);
  // The cached image as if written before the source changed (file times can be coarse).
  fs::last_write_time(cached, fs::last_write_time(source) - std::chrono::seconds(10));
  const Run again = run(args);
  REQUIRE_MESSAGE(again.code == 0, again.err);
  CHECK_MESSAGE(again.out.find("1 written, 3 already there, 1 made again: their source changed") != std::string::npos,
                again.out);
  const GrayImage after = read_image_gray(cached);
  CHECK(after.pixels == resize_bilinear(read_dicom(source), 24, 24).pixels);
  CHECK(after.pixels != before.pixels);
  const Run third = run(args);  // now up to date
  CHECK(third.out.find("0 written, 4 already there") != std::string::npos);
}

TEST_CASE("prepare_data: an --out inside --images is not searched, so the documented rerun resumes") {
  Tree t;
  const std::string out = t.images + "/cache";
  const std::vector<std::string> args = {"--images", t.images, "--labels", t.labels, "--out", out, "--size", "16"};
  const Run first = run(args);
  REQUIRE_MESSAGE(first.code == 0, first.err);
  const Run again = run(args);
  REQUIRE_MESSAGE(again.code == 0, again.err);
  CHECK_MESSAGE(again.out.find("4 images in " + out + " (0 written, 4 already there") != std::string::npos, again.out);
}

TEST_CASE("prepare_data: a dangling link and a comma in a path or ImageId are named before anything is written") {
  Tree t;
  const std::string out = t.dir.file("o");
  fs::create_symlink(t.dir.file("moved-away.dcm"), t.images + "/study2/series2/2.25.102.dcm");
  const Run dangling = run({"--images", t.images, "--out", out, "--size", "8"});
  CHECK(dangling.code == 1);
  CHECK_MESSAGE(dangling.err.find(t.images + "/study2/series2/2.25.102.dcm is a symbolic link to '" +
                                  t.dir.file("moved-away.dcm") + "', which does not exist") != std::string::npos,
                dangling.err);
  fs::remove(t.images + "/study2/series2/2.25.102.dcm");
  fs::create_directories(t.images + "/study,4");
  write_png_gray(t.images + "/study,4/late.png", random_gray(8, 8, 5));
  const Run comma_path = run({"--images", t.images, "--out", out, "--size", "8"});
  CHECK(comma_path.code == 1);
  CHECK_MESSAGE(comma_path.err.find("source path '" + t.images + "/study,4/late.png' holds a comma") != std::string::npos,
                comma_path.err);
  fs::remove_all(t.images + "/study,4");
  write_png_gray(t.images + "/study2/a,b.png", random_gray(8, 8, 6));
  const Run comma_id = run({"--images", t.images, "--out", out, "--size", "8"});
  CHECK(comma_id.code == 1);
  CHECK_MESSAGE(comma_id.err.find(t.images + "/study2/a,b.png: ImageId 'a,b' holds a comma") != std::string::npos,
                comma_id.err);
  CHECK(!fs::exists(out + "/images/2.25.100.png"));  // refused before any image was written
}

TEST_CASE("prepare_data: SIGINT stops it between images (exit 130); the same command continues") {
  Tree t;
  const std::string out = t.dir.file("out");
  const std::vector<std::string> args = {"--images", t.images, "--labels", t.labels, "--out", out, "--size", "24",
                                         "--threads", "1"};
  // The signal comes as the first image is counted done: that image stands, no other starts.
  const Run stopped = run_tool_raising(tools::prepare_data_tool(), args, "prepare_data: 1/4", SIGINT);
  CHECK(stopped.code == 130);
  CHECK(stopped.err.find("prepare_data: stopped by signal 2 (SIGINT); the images written so far stand, the same "
                         "command continues\n") != std::string::npos);
  CHECK(stopped.out.empty());
  size_t images = 0;
  for (const auto& e : fs::directory_iterator(out + "/images")) images += e.path().extension() == ".png";
  CHECK(images == 1);
  CHECK(!fs::exists(out + "/manifest.csv"));
  const Run again = run(args);
  REQUIRE_MESSAGE(again.code == 0, again.err);
  CHECK(again.out.find("3 written, 1 already there") != std::string::npos);
}

TEST_CASE("prepare_data: labels and images that do not match are named") {
  Tree t;
  write_rle_csv(t.labels, {{kSiimId, "-1"}, {"2.25.100", "-1"}, {"2.25.101", "-1"}, {"ghost", "-1"}});
  Run r = run({"--images", t.images, "--labels", t.labels, "--out", t.dir.file("o"), "--size", "8"});
  CHECK(r.code == 1);
  CHECK(r.err.find("1 image(s) under") != std::string::npos);
  CHECK(r.err.find("'extra'") != std::string::npos);
  Run skip = run({"--images", t.images, "--labels", t.labels, "--out", t.dir.file("o"), "--size", "8", "--skip-missing"});
  REQUIRE_MESSAGE(skip.code == 0, skip.err);
  CHECK(skip.out.find("3 images") != std::string::npos);
  CHECK(skip.out.find("1 without labels skipped") != std::string::npos);
  CHECK(skip.out.find("1 label rows without an image ignored") != std::string::npos);
  CHECK(!fs::exists(t.dir.file("o/images/extra.png")));
  // A label row whose runs do not fit the image.
  write_rle_csv(t.labels, {{kSiimId, "-1"}, {"2.25.100", "6390 20"}, {"2.25.101", "-1"}, {"extra", "-1"}});
  Run overflow = run({"--images", t.images, "--labels", t.labels, "--out", t.dir.file("p"), "--size", "8"});
  CHECK(overflow.code == 1);
  CHECK(overflow.err.find(t.labels + ":3 (2.25.100)") != std::string::npos);
  CHECK(overflow.err.find("80x80 image has only 6400 pixels") != std::string::npos);
}

TEST_CASE("prepare_data: broken inputs and duplicate ImageIds are named") {
  Tree t;
  fs::create_directories(t.images + "/study3/series3");
  write_file_atomic(t.images + "/study3/series3/2.25.200.dcm", "not a dicom file, but long enough to be parsed a bit");
  write_file_atomic(t.labels, slurp(t.labels) + "2.25.200, -1\n");
  Run r = run({"--images", t.images, "--labels", t.labels, "--out", t.dir.file("o"), "--size", "8"});
  CHECK(r.code == 1);
  CHECK(r.err.find("prepare_data: error: " + t.images + "/study3/series3/2.25.200.dcm") != std::string::npos);
  fs::remove(t.images + "/study3/series3/2.25.200.dcm");
  fs::copy_file(t.images + "/study2/series2/2.25.100.dcm", t.images + "/study3/series3/2.25.100.dcm");
  Run dup = run({"--images", t.images, "--out", t.dir.file("q"), "--size", "8"});
  CHECK(dup.code == 1);
  CHECK(dup.err.find("two files have the ImageId '2.25.100'") != std::string::npos);
}

TEST_CASE("prepare_data: strict arguments, clear errors, exit codes") {
  Tree t;
  Run help = run({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("usage: prepare_data --images DIR [--labels CSV]") != std::string::npos);
  auto usage_error = [&](const std::vector<std::string>& args, const std::string& part) {
    Run r = run(args);
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(part) != std::string::npos);
  };
  const std::string out = t.dir.file("o");
  usage_error({}, "missing required option --images");
  usage_error({"--images", t.images, "--out", out}, "missing required option --size");
  usage_error({"--images", t.images, "--out", out, "--size", "0"}, "--size is 0, expected 1..16384");
  usage_error({"--images", t.images, "--out", out, "--size", "12x"}, "--size expects an integer in 1..16384, got '12x'");
  usage_error({"--images", t.images, "--out", out, "--size", "8", "--threads", "0"}, "--threads is 0");
  usage_error({"--images", t.images, "--out", out, "--size", "8", "--folds", "5"}, "--folds needs --labels");
  usage_error({"--images", t.images, "--out", out, "--size", "8", "--seed", "1"}, "--seed needs --folds");
  usage_error({"--images", t.dir.file("nowhere"), "--out", out, "--size", "8"}, "is not a folder");
  usage_error({"--images", t.images, "--labels", t.dir.file("none.csv"), "--out", out, "--size", "8"}, "is not a file");
  usage_error({"--images", t.images, "--out", out, "--size", "8", "--label-format", "absolute"}, "needs --labels");
  usage_error({"--images", t.images, "--labels", t.labels, "--out", out, "--size", "8", "--label-format", "zig"},
              "expected relative or absolute");
  usage_error({"--images", t.images, "--out", out, "--size", "8", "--sizes", "9"}, "unknown option --sizes");
  CHECK(!fs::exists(out));
}
