// Command-line values of the submission tools: strict numbers, comma-separated lists
// (search_triplets --tops 0.6,0.75) and triplets (rle_submit --triplet 0.75,1000,0.3). Malformed text is
// a pleura::Error naming the option and the bad item (the tools report it as a usage error). Tests: tests/eval/test_triplet_args.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/ops/triplet_mask.h"

namespace pleura::eval {

// A whole decimal number (std::from_chars: no spaces, no '+', no hex), finite. False otherwise.
bool parse_finite(std::string_view text, double& value);

// "a,b,c": at least one item; thresholds are numbers in [0, 1], areas integers in [0, 2^40].
std::vector<double> parse_threshold_list(const std::string& option, const std::string& text);
std::vector<int64_t> parse_area_list(const std::string& option, const std::string& text);

// "TOP,AREA,BOTTOM", e.g. "0.75,1000,0.3".
Triplet parse_triplet(const std::string& option, const std::string& text);

}  // namespace pleura::eval
