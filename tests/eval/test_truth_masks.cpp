// Tests of eval/truth_masks.h: truth from a mask folder and from an RLE label file, brought to
// the maps' size with nearest neighbour, and the errors.
#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "data/rle.h"
#include "eval/truth_masks.h"

using namespace pleura;
using namespace pleura::eval;
using namespace pleura::testing;

TEST_CASE("truth_masks: folder and labels give the same masks, resized with nearest neighbour") {
  TempDir dir;
  const GrayImage a = random_mask(16, 16, 3, 0.3), b(16, 16, 0);
  data::write_png_gray(dir.file("a.png"), a);
  data::write_png_gray(dir.file("b.png"), b);
  std::ofstream(dir.file("labels.csv")) << "ImageId,EncodedPixels\na," << data::encode_rle(a, data::RleFormat::kSiimRelative)
                                        << "\nb,-1\n";
  const TruthMasks folder = TruthMasks::from_folder(dir.path());
  const TruthMasks rows = TruthMasks::from_labels(dir.file("labels.csv"), data::RleFormat::kSiimRelative, 16, 16);
  CHECK(folder.contains("a"));
  CHECK_FALSE(folder.contains("c"));
  CHECK(rows.contains("b"));
  CHECK_FALSE(rows.contains("labels"));
  CHECK(folder.mask("a", 16, 16).pixels == a.pixels);
  CHECK(rows.mask("a", 16, 16).pixels == a.pixels);
  // At another size: cv2 INTER_NEAREST of the full-size mask (8x8 takes every second pixel, 24x24 repeats).
  CHECK(folder.mask("a", 8, 8).pixels == data::resize_nearest(a, 8, 8).pixels);
  CHECK(rows.mask("a", 24, 24).pixels == data::resize_nearest(a, 24, 24).pixels);
  const GrayImage half = rows.mask("a", 8, 8);
  CHECK(half.at(3, 5) == a.at(6, 10));
  CHECK(folder.source() == "mask folder " + dir.path());
  CHECK(rows.source() == "labels " + dir.file("labels.csv"));
}

TEST_CASE("truth_masks: errors name the source") {
  TempDir dir;
  expect_error([&] { TruthMasks::from_folder(dir.path()); }, {"no <ImageId>.png file in", dir.path()});
  expect_error([&] { TruthMasks::from_folder(dir.file("x")); },
               {"truth masks: folder '" + dir.file("x") + "' does not exist"});
  std::filesystem::create_symlink(dir.file("gone.png"), dir.file("c.png"));  // a dangling link is named
  expect_error([&] { TruthMasks::from_folder(dir.path()); },
               {dir.file("c.png") + " is a symbolic link to '" + dir.file("gone.png") + "', which does not exist"});
  std::ofstream(dir.file("bad.csv")) << "ImageId,EncodedPixels\na,-1\nb,3 x\n";
  expect_error([&] { TruthMasks::from_labels(dir.file("bad.csv"), data::RleFormat::kSiimRelative, 4, 4); },
               {dir.file("bad.csv") + ":3", "'x'"});
  std::ofstream(dir.file("long.csv")) << "ImageId,EncodedPixels\na,10 10\n";
  const TruthMasks t = TruthMasks::from_labels(dir.file("long.csv"), data::RleFormat::kSiimRelative, 4, 4);
  expect_error([&] { t.mask("a", 4, 4); }, {dir.file("long.csv") + ":2 (a)", "only 16 pixels"});
  expect_error([&] { t.mask("zz", 4, 4); }, {"no label row for ImageId 'zz'"});
}
