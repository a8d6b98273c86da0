// Procedural chest radiographs shaped like the SIIM-ACR images, for demos and tests without the real
// data: two lungs (superellipses with apical tilt) holding a branching vessel tree and fine parenchymal
// texture, posterior ribs and clavicles, mediastinum, heart, spine, soft tissue, abdomen, quantum
// noise and a per-image exposure (gamma, contrast, brightness). A pneumothorax-like lesion is a
// peripheral crescent (apical, apico-lateral, lateral, rarely basal) between the chest wall and a thin
// bright visceral pleural line, in which the lung texture is absent; its depth varies widely.
//  - kRealistic: subtle. The lesion is about as bright as the lung around it (ribs still cross it; the
//    vessels and parenchymal texture are missing, it is a little more lucent, and a faint pleural line
//    bounds it), so an intensity threshold does not find it (tests/data/test_synthetic.cpp).
//  - kDemo: the same kind of lesion, larger and easier: darker, texture fully gone, a stronger and
//    wider pleural line, so a UNet trained from scratch on a CPU picks it up within minutes.
// Deterministic: the same seed gives the same pixels with the same C library (engine Rng, no std::
// distributions; another libm may round exp/atan2/cbrt differently in the last bit and so, rarely, move
// a pixel by one grey level). The data set around it (DICOM tree, CSVs): synthetic_dataset.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

namespace pleura::data {

enum class Difficulty { kRealistic, kDemo };

// "realistic" / "demo"; throws otherwise.
Difficulty parse_difficulty(const std::string& name);
const char* difficulty_name(Difficulty difficulty);

struct SyntheticChest {
  GrayImage image;                  // size x size, 0 = black (air)
  GrayImage lung_field;             // 0/255: both lungs, lesions included
  std::vector<GrayImage> lesions;   // one 0/255 mask per lesion (they do not overlap)
};

// Renders one radiograph with `lesion_count` lesions (0, 1 or 2; two lesions sit in different lungs).
SyntheticChest render_synthetic_chest(int64_t size, Difficulty difficulty, int lesion_count, uint64_t seed);

}  // namespace pleura::data
