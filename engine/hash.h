// A content fingerprint: 64-bit FNV-1a as 16 hex digits. Not cryptographic; it tells whether a text or a
// file changed (the training configuration's hash in checkpoints, prepare_data's record of its labels).
// Implementation in engine/hash.cpp; test in tests/engine/test_hash.cpp.
#pragma once

#include <string>
#include <string_view>

namespace pleura {

std::string fnv1a_hex(std::string_view bytes);

}  // namespace pleura
