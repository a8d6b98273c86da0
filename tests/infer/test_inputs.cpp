// Tests of infer/inputs.h: DICOM trees, PNG/JPEG folders and prepared caches found and read as the
// reference's test loader would see them (resized with cv2 INTER_LINEAR semantics), and their errors.
#include "infer/inputs.h"

#include <filesystem>
#include <fstream>

#include "tests/testing.h"
#include "tests/data/data_testing.h"
#include "tests/infer/infer_testing.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/resize.h"

namespace fs = std::filesystem;
using namespace pleura;
using namespace pleura::infer;
using namespace pleura::testing;

TEST_CASE("infer: a DICOM tree and a PNG folder are walked; ImageIds sorted; other files ignored") {
  TempDir dir;
  const std::vector<TestImage> dicoms = write_dicom_inputs(dir.file("tree"));
  const std::vector<TestImage> pngs = write_png_inputs(dir.file("tree/png"));
  std::ofstream(dir.file("tree/readme.txt")) << "not an image";
  const InputSet set = find_inputs(dir.file("tree"));
  CHECK(set.kind == InputKind::kImageTree);
  REQUIRE(set.images.size() == 5);
  // '1' sorts before 'i'.
  CHECK(set.images[0].image_id == dicoms[0].image_id);
  CHECK(set.images[1].image_id == dicoms[1].image_id);
  CHECK(set.images[2].image_id == "img_a");
  CHECK(set.images[4].path == pngs[2].path);
  // DICOM pixels come through read_dicom; a resize is cv2's INTER_LINEAR (data::resize_bilinear).
  const GrayImage d = load_input(set.images[1], 64);
  CHECK(d.pixels == data::resize_bilinear(dicoms[1].pixels, 64, 64).pixels);
  const GrayImage same = load_input(set.images[3], 64);  // img_b is 64x64 already: untouched
  CHECK(same.pixels == pngs[1].pixels.pixels);
  const GrayImage up = load_input(set.images[4], 128);
  CHECK(up.height == 128);
  CHECK(up.pixels == data::resize_bilinear(pngs[2].pixels, 128, 128).pixels);
}

TEST_CASE("infer: a prepared cache is read through its manifest") {
  TempDir dir;
  const std::vector<TestImage> pngs = write_png_inputs(dir.file("cache/images"));
  std::vector<data::ManifestRow> rows;
  for (const TestImage& t : pngs) {
    data::ManifestRow r;
    r.image_id = t.image_id;
    r.source = "/original/" + t.image_id + ".dcm";
    r.height = t.pixels.height;
    r.width = t.pixels.width;
    r.source_height = r.source_width = 1024;
    rows.push_back(r);
  }
  data::write_manifest(dir.file("cache/manifest.csv"), rows);
  std::ofstream(dir.file("cache/images/stray.png")) << "not listed, not read";
  const InputSet set = find_inputs(dir.file("cache"));
  CHECK(set.kind == InputKind::kPreparedCache);
  REQUIRE(set.images.size() == 3);
  CHECK(set.images[0].path == (fs::path(dir.file("cache")) / "images" / "img_a.png").string());
  CHECK(load_input(set.images[0], 64).pixels == data::resize_bilinear(pngs[0].pixels, 64, 64).pixels);
  fs::remove(dir.file("cache/images/img_b.png"));
  expect_error([&] { find_inputs(dir.file("cache")); }, {"manifest.csv", "img_b", "does not exist"});
}

TEST_CASE("infer: input errors name the folder or the file") {
  TempDir dir;
  expect_error([&] { find_inputs(dir.file("absent")); }, {"input folder", "absent", "does not exist"});
  fs::create_directories(dir.file("empty/sub"));
  std::ofstream(dir.file("empty/sub/notes.txt")) << "x";
  expect_error([&] { find_inputs(dir.file("empty")); }, {"no .dcm, .png, .jpg or .jpeg file", "empty"});
  write_png_inputs(dir.file("dup/a"));
  write_png_inputs(dir.file("dup/b"));
  expect_error([&] { find_inputs(dir.file("dup")); }, {"two files have the ImageId 'img_a'"});
  std::ofstream(dir.file("broken.png")) << "this is not a png";
  expect_error([&] { load_input({"broken", dir.file("broken.png")}, 64); }, {"broken.png"});
  std::ofstream(dir.file("broken.dcm")) << "this is not a dicom";
  expect_error([&] { load_input({"broken", dir.file("broken.dcm")}, 64); }, {"broken.dcm"});
}
