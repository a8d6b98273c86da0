// Helpers for the inference tests (tests/infer/, tests/tools/test_infer_unet.cpp): checkpoints of
// small-input AlbuNets saved from models made here, input folders of PNGs, DICOMs or a prepared cache, and
// the expected maps computed directly with the models (independently of infer/predict.cpp).
// Implemented in infer_testing.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "models/registry.h"
#include "data/augment/normalize.h"
#include "data/image.h"

namespace pleura::testing {

// An AlbuNet made with make_model(seed) whose BatchNorm running statistics are set to seeded random
// values (mean in [-0.2, 0.2], variance in [0.5, 2]), so that eval mode differs from training mode; saved
// to `path` (save_state_dict). Returned as infer_unet runs it: in eval mode, its batch norms folded into the
// convolutions (layers/conv_bn.h), so that it gives the tools' bits.
std::shared_ptr<Model> save_test_albunet(const std::string& path, uint64_t seed);

struct TestImage {
  std::string image_id;
  std::string path;
  GrayImage pixels;  // as written (before any resize)
};

// Three PNGs of different sizes (72x90, 64x64, 100x60) with smooth random content, in `dir`.
std::vector<TestImage> write_png_inputs(const std::string& dir);
// Two DICOMs (JPEG baseline, 80x80 and 96x70) in a SIIM-like tree <dir>/<study>/<series>/<ImageId>.dcm.
// `pixels` holds what read_dicom gives back (JPEG is lossy).
std::vector<TestImage> write_dicom_inputs(const std::string& dir);

// The expected averaged map of one image, computed directly: resize, normalise, then for each model
// p = sigmoid(model(x)), with flip also sigmoid(model(x flipped)) flipped back by index, averaged by
// (p + q) / 2, then mean = (mean * i + p) / (i + 1) in float32. Returns float32 [size, size]. The
// convolutions as infer_unet runs them: Winograd F(4x4,3x3) for the 3x3 ones on the CPU (its default), or
// all exact (--exact-convolutions).
Tensor expected_map(const std::vector<std::shared_ptr<Model>>& models, const GrayImage& image, int64_t size,
                    bool flip, augment::Normalization norm, bool exact_convolutions = false);

// The float32 [H, W] map of an .npy file.
Tensor read_map_npy(const std::string& path);

// Files under `dir` whose name contains ".tmp." (left-over temporaries).
std::vector<std::string> temporaries_in(const std::string& dir);

}  // namespace pleura::testing
