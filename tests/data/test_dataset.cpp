// Tests of data/dataset.h: fold splits in folds-file order, items read from a prepared cache and from a
// DICOM tree with RLE labels (the same pixels), empty training masks for negatives, and the errors that
// name missing or inconsistent images.
#include "data/dataset.h"

#include <filesystem>

#include "engine/file_io.h"
#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/train/train_testing.h"
#include "data/dicom_write.h"
#include "data/image_io.h"
#include "data/rle.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::testing;

TEST_CASE("dataset: fold splits keep the folds file's order and its labels") {
  TempDir t;
  const TinyCache c = make_tiny_cache(t.file("cache"), 9, 32, 3);
  const TrainDataset d = TrainDataset::open({c.dir, "", ""}, c.folds);
  CHECK(d.entries().size() == 9);
  const FoldSplit s = d.split(1);
  CHECK(s.valid == std::vector<int64_t>{1, 4, 7});
  CHECK(s.train == std::vector<int64_t>{0, 2, 3, 5, 6, 8});
  CHECK(s.train_positive == std::vector<bool>{false, false, true, true, false, false});
  CHECK(s.valid_positives() == 2);  // items 1 and 7
  CHECK(s.train_positives() == 2);
  expect_error([&] { d.split(3); }, {"fold 3 holds no image", "folds 0..2"});
  CHECK(d.describe() == "prepared cache " + c.dir);
}

TEST_CASE("dataset: items from the cache; negatives get an empty mask in training, their file in validation") {
  TempDir t;
  const TinyCache c = make_tiny_cache(t.file("cache"), 6, 32, 2);
  // Item 0 is negative; give its mask file some pixels, so that the two policies differ.
  GrayImage odd(32, 32, 0);
  odd.at(3, 4) = 255;
  data::write_png_gray(c.dir + "/masks/" + c.ids[0] + ".png", odd);
  const TrainDataset d = TrainDataset::open({c.dir, "", ""}, c.folds);
  const Sample train = d.load(0, MaskPolicy::kZerosForNegatives);
  const Sample valid = d.load(0, MaskPolicy::kRead);
  CHECK(train.image.pixels == data::read_image_gray(c.dir + "/images/" + c.ids[0] + ".png").pixels);
  CHECK(std::count(train.mask.pixels.begin(), train.mask.pixels.end(), 0) == 32 * 32);
  CHECK(valid.mask.pixels == odd.pixels);
  // A positive item reads its mask under both policies.
  const Sample pos = d.load(1, MaskPolicy::kZerosForNegatives);
  CHECK(pos.mask.pixels == data::read_image_gray(c.dir + "/masks/" + c.ids[1] + ".png").pixels);
  CHECK(std::count(pos.mask.pixels.begin(), pos.mask.pixels.end(), 255) > 0);
  // The loader's view: index i of the list -> entry list[i], named by its ImageId.
  SampleSource src = d.source({3, 1}, MaskPolicy::kRead);
  CHECK(src(1).mask.pixels == pos.mask.pixels);
  CHECK(d.namer({3, 1})(0) == c.ids[3]);
  expect_error([&] { src(2); }, {"loader index 2 out of range"});
}

TEST_CASE("dataset: a DICOM tree with RLE labels gives the same items as its prepared cache") {
  TempDir t;
  const TinyCache c = make_tiny_cache(t.file("cache"), 4, 32, 2);
  fs::create_directories(t.file("tree/study/series"));
  std::string labels = "ImageId, EncodedPixels\n";
  for (size_t i = 0; i < c.ids.size(); ++i) {
    const GrayImage image = data::read_image_gray(c.dir + "/images/" + c.ids[i] + ".png");
    const GrayImage mask = data::read_image_gray(c.dir + "/masks/" + c.ids[i] + ".png");
    data::DicomWriteOptions o;
    o.compression = data::DicomCompression::kNone;
    o.sop_instance_uid = c.ids[i];
    o.study_instance_uid = "2.25.1";
    o.series_instance_uid = "2.25.2";
    data::write_dicom_gray8(t.file("tree/study/series/" + c.ids[i] + ".dcm"), image, o);
    labels += c.ids[i] + ", " + data::encode_rle(mask, data::RleFormat::kSiimRelative) + "\n";
  }
  write_file_atomic(t.file("labels.csv"), labels);
  const TrainDataset tree = TrainDataset::open({"", t.file("tree"), t.file("labels.csv")}, c.folds);
  const TrainDataset cache = TrainDataset::open({c.dir, "", ""}, c.folds);
  for (int64_t e = 0; e < 4; ++e) {
    const Sample a = tree.load(e, MaskPolicy::kRead), b = cache.load(e, MaskPolicy::kRead);
    CHECK(a.image.pixels == b.image.pixels);
    CHECK(a.mask.pixels == b.mask.pixels);
  }
  // An image missing from the tree is named.
  fs::remove(t.file("tree/study/series/" + c.ids[2] + ".dcm"));
  expect_error([&] { TrainDataset::open({"", t.file("tree"), t.file("labels.csv")}, c.folds); },
               {"1 of the 4 images of", "have no .dcm/.png/.jpg file under", c.ids[2]});
}

TEST_CASE("dataset: missing or inconsistent cache items are errors that name them") {
  TempDir t;
  const TinyCache c = make_tiny_cache(t.file("cache"), 6, 32, 2);
  fs::remove(c.dir + "/images/" + c.ids[4] + ".png");
  expect_error([&] { TrainDataset::open({c.dir, "", ""}, c.folds); },
               {"[dataset] 1 of the 6 images of " + c.folds + " are missing from " + c.dir + "/images: " + c.ids[4]});
  const TinyCache c2 = make_tiny_cache(t.file("cache2"), 6, 32, 2);
  fs::remove(c2.dir + "/masks/" + c2.ids[1] + ".png");
  expect_error([&] { TrainDataset::open({c2.dir, "", ""}, c2.folds); }, {"have no mask in", c2.ids[1]});
  // exist_labels against the manifest's has_mask.
  const TinyCache c3 = make_tiny_cache(t.file("cache3"), 6, 32, 2);
  std::string folds = read_file(c3.folds);
  const std::string row = c3.ids[1] + ".png,1,1";
  REQUIRE(folds.find(row) != std::string::npos);
  folds.replace(folds.find(row), row.size(), c3.ids[1] + ".png,1,0");
  write_file_atomic(c3.folds, folds);
  expect_error([&] { TrainDataset::open({c3.dir, "", ""}, c3.folds); },
               {"1 images have exist_labels in", "disagreeing with has_mask", c3.ids[1]});
  // An image the manifest does not list.
  const TinyCache c4 = make_tiny_cache(t.file("cache4"), 6, 32, 2);
  std::string manifest = read_file(c4.dir + "/manifest.csv");
  const size_t at = manifest.find(c4.ids[5] + ",");
  manifest.erase(at, manifest.find('\n', at) - at + 1);
  write_file_atomic(c4.dir + "/manifest.csv", manifest);
  expect_error([&] { TrainDataset::open({c4.dir, "", ""}, c4.folds); }, {"are not in", "manifest.csv", c4.ids[5]});
  // An unreadable image is named by the loader (it reaches the trainer as "[loader] bad sample ...").
  const TinyCache c5 = make_tiny_cache(t.file("cache5"), 4, 32, 2);
  write_file_atomic(c5.dir + "/images/" + c5.ids[0] + ".png", "not a png");
  const TrainDataset d5 = TrainDataset::open({c5.dir, "", ""}, c5.folds);
  LoaderConfig lc;
  lc.augment = augment::resize_only(32);
  lc.num_workers = 0;
  Loader loader(d5.source({0, 1}, MaskPolicy::kRead), lc, d5.namer({0, 1}));
  loader.start_epoch(0, {0, 1});
  expect_error([&] { loader.next(); }, {"bad sample 0 '" + c5.ids[0] + "'"});
}
