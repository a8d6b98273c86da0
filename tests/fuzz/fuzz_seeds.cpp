// Seed inputs of the fuzz targets (see fuzz_targets.h): small valid files of every format, made here with
// Pleura's own writers and DCMTK, plus the heads of the test fixtures. Small seeds keep libFuzzer fast;
// the mutations reach the rest.
#include <stb_image_write.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/manifest.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "tests/data/dicom_fixtures.h"
#include "tests/fuzz/fuzz_targets.h"

namespace pleura::fuzz {
namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The first `lines` lines of a text file (empty when it cannot be read).
std::string file_head(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  std::string out, line;
  for (int i = 0; i < lines && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

Tensor ramp(const Shape& shape, DType dtype) {
  std::vector<double> values(static_cast<size_t>(shape.numel()));
  const double offset = dtype == DType::kUInt8 ? 0.0 : -3.0;
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>((i * 7) % 11) + offset;
  return Tensor::from_vector(values, shape, dtype);
}

std::vector<std::string> tensor_file_seeds(bool npy) {
  const std::vector<NamedTensor> tensors = {{"encoder.weight", ramp({2, 3, 1, 1}, DType::kFloat32)},
                                            {"step", ramp({1}, DType::kInt64)},
                                            {"mask", ramp({4}, DType::kUInt8)},
                                            {"double", ramp({2, 2}, DType::kFloat64)}};
  std::vector<std::string> out;
  if (npy) {
    for (const NamedTensor& t : tensors) out.push_back(format_npy(t.tensor));
    return out;
  }
  out.push_back(format_safetensors(tensors, {{"format", "pt"}}));
  out.push_back(format_safetensors({tensors[0]}));
  // Half-precision tensors, which Pleura reads but never writes: a header written by hand.
  const std::string header = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}})";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  out.push_back(file + header + std::string("\x00\x3c\x00\xc0\x80\x3f", 6));
  return out;
}

GrayImage pattern(int64_t height, int64_t width) {
  GrayImage image(height, width);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) image.at(y, x) = static_cast<uint8_t>((y * 37 + x * 11) % 256);
  return image;
}

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::vector<std::string> image_seeds() {
  const GrayImage grey = pattern(6, 9);
  std::vector<std::string> out;
  const std::string& path = scratch_file("", ".seed.png");
  data::write_png_gray(path, grey);
  out.push_back(file_bytes(path));
  std::vector<uint8_t> rgb;
  for (uint8_t p : grey.pixels) rgb.insert(rgb.end(), {p, static_cast<uint8_t>(255 - p), static_cast<uint8_t>(p / 2)});
  std::string png_rgb, jpeg;
  stbi_write_png_to_func(append_bytes, &png_rgb, 9, 6, 3, rgb.data(), 9 * 3);
  stbi_write_jpg_to_func(append_bytes, &jpeg, 9, 6, 1, grey.pixels.data(), 90);
  out.push_back(png_rgb);
  out.push_back(jpeg);
  return out;
}

std::vector<std::string> dicom_seeds() {
  using testing::DicomFixture;
  using testing::FixtureSyntax;
  std::vector<DicomFixture> fixtures;
  for (FixtureSyntax syntax : {FixtureSyntax::kExplicitLittle, FixtureSyntax::kImplicitLittle,
                               FixtureSyntax::kExplicitBig, FixtureSyntax::kJpegBaseline, FixtureSyntax::kJpegLossless,
                               FixtureSyntax::kJpegLs, FixtureSyntax::kRle}) {
    DicomFixture f;
    f.rows = 6;
    f.columns = 5;
    f.syntax = syntax;
    for (int64_t i = 0; i < f.rows * f.columns; ++i) f.values.push_back(static_cast<int32_t>((i * 29) % 256));
    fixtures.push_back(f);
  }
  DicomFixture wide = fixtures[0];  // 12 of 16 bits, signed, windowed, MONOCHROME1
  wide.bits_allocated = 16;
  wide.bits_stored = 12;
  wide.is_signed = true;
  wide.photometric = "MONOCHROME1";
  wide.window_center = 10;
  wide.window_width = 400;
  wide.rescale_slope = 2;
  for (int32_t& v : wide.values) v = v * 7 - 900;
  fixtures.push_back(wide);
  std::vector<std::string> out;
  const std::string& path = scratch_file("", ".seed.dcm");
  for (const DicomFixture& f : fixtures) {
    testing::write_dicom_fixture(path, f);
    out.push_back(file_bytes(path));
  }
  return out;
}

// With labels (both mask columns filled) and without (both empty).
std::vector<std::string> manifest_seeds() {
  const std::string& path = scratch_file("", ".seed-manifest.csv");
  std::vector<std::string> out;
  data::write_manifest(path, {{"1.2.3", "dicom/1.2.3.dcm", 64, 64, 1024, 1024, true, 57},
                              {"1.2.4", "png/1.2.4.png", 64, 64, 512, 512, false, 0}});
  out.push_back(file_bytes(path));
  data::write_manifest(path, {{"x", "x.jpg", 32, 32, 100, 80, std::nullopt, 0}});
  out.push_back(file_bytes(path));
  return out;
}

}  // namespace

std::vector<std::string> seeds(std::string_view name, const std::string& source_dir) {
  const std::string fixtures = source_dir.empty() ? "" : source_dir + "/tests/fixtures";
  const std::string siim = fixtures + "/siim";
  std::vector<std::string> out;
  auto add_file = [&](const std::string& path) {
    if (fixtures.empty()) return;
    std::string bytes = file_bytes(path);
    if (!bytes.empty()) out.push_back(std::move(bytes));
  };
  auto add_head = [&](const std::string& path, int lines) {
    if (fixtures.empty()) return;
    std::string head = file_head(path, lines);
    if (!head.empty()) out.push_back(std::move(head));
  };
  if (name == "safetensors") {
    out = tensor_file_seeds(false);
    add_file(fixtures + "/weights/written_by_safetensors.safetensors");
  } else if (name == "npy") {
    out = tensor_file_seeds(true);
    add_file(fixtures + "/augment/src.npy");
  } else if (name == "dicom") {
    out = dicom_seeds();
    add_file(siim + "/1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm");
  } else if (name == "rle") {
    for (const char* rle : {"-1", " -1", "0 3 5 2", "3 4 2 1 9 2", "1 64", "10 1 1 1 1 1"}) {
      out.push_back(std::string("\x08\x07", 2) + rle);
    }
  } else if (name == "label_csv") {
    out = {"ImageId,EncodedPixels\na,-1\nb,3 4 2 1\nb,40 2\n", "\xEF\xBB\xBF" "fname,mask\r\nx, -1\r\ny,1 1\r\n",
           "ImageId, EncodedPixels\nid1, 5 10 100 3\n"};
    add_head(siim + "/train-rle-sample.csv", 6);
  } else if (name == "folds_csv") {
    out = {"fname,fold,exist_labels\na.png,0,0\nb.png,1,1\nc.png,1,0\n"};
    add_head(siim + "/train_folds_5.csv", 12);
  } else if (name == "sample_csv") {
    out = {"ImageId,EncodedPixels\nID_1,-1\nID_2,-1\nID_1,-1\n", "fname\nx\n"};
    add_head(siim + "/stage_2_sample_submission.csv", 8);
  } else if (name == "manifest_csv") {
    out = manifest_seeds();
  } else if (name == "ini") {
    out = {"[run]\npipeline = p\noutput = out\n[train]\nepochs = 2\nlr = 1e-4\n%%\ntrain.epochs=3\nrun.seed=7\n",
           "; comment\n[data]\ncache = c\nsize = 64\n[folds]\nuse = 0,1\n"};
    if (!source_dir.empty()) {
      for (const char* config : {"demo.ini", "albunet_valid_infer.ini", "albunet_valid_submit.ini"}) {
        std::string text = file_bytes(source_dir + "/configs/" + config);
        if (!text.empty()) out.push_back(std::move(text));
      }
    }
  } else if (name == "image") {
    out = image_seeds();
    add_file(fixtures + "/submit/golden_maps/golden_a.png");
  } else {
    target(name);  // throws, naming the targets
  }
  return out;
}

}  // namespace pleura::fuzz
