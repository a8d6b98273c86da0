// The few JSON pieces the submission tools print: numbers written so that they read back to the same
// double (shortest round-trip form, std::to_chars), NaN and infinities as null, and escaped strings.
// Tests: tests/eval/test_triplet_args.cpp.
#pragma once

#include <string>
#include <string_view>

namespace pleura::eval {

// 0.75 -> "0.75", 1000 -> "1000", 1.0/3 -> "0.3333333333333333", NaN -> "null".
std::string json_number(double value);
// A quoted string with ", \ and control characters escaped.
std::string json_string(std::string_view text);

}  // namespace pleura::eval
