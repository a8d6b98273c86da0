// From augmented 8-bit images to the network's float32 inputs: the image as 3 equal channels [3,H,W]
// (the reference read grey PNGs as BGR) normalised `unit` (x/255) or `imagenet`, and the mask as
// [1,H,W] = mask/255. Test: tests/data/augment/test_normalize.cpp.
#pragma once

#include <string>

#include "engine/tensor.h"
#include "data/image.h"

namespace pleura::augment {

enum class Normalization {
  kUnit,      // x / 255 (the `*_old` configs that produced the final models)
  kImagenet,  // (x/255 - mean[c]) / std[c], mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)
};
// "unit" or "imagenet"; anything else throws naming the text.
Normalization parse_normalization(const std::string& text);
const char* normalization_name(Normalization n);

// Writes 3*H*W floats (channel-major) to dst. `imagenet` follows albumentations' Normalize in float32:
// (float(x) - float32(mean*255)) * float32(1 / float32(std*255)).
void write_image_chw(const GrayImage& image, Normalization norm, float* dst);
// Writes H*W floats: mask / 255 (any value kept as it is, so soft edges stay soft).
void write_mask(const GrayImage& mask, float* dst);

// The same as CPU tensors: [3,H,W] and [1,H,W] float32.
Tensor image_to_tensor(const GrayImage& image, Normalization norm);
Tensor mask_to_tensor(const GrayImage& mask);

}  // namespace pleura::augment
