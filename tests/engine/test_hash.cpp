// Tests of engine/hash.h against the FNV-1a 64-bit reference values.
#include "engine/hash.h"

#include "tests/testing.h"

using namespace pleura;

TEST_CASE("hash: FNV-1a 64 of the reference strings, as 16 hex digits") {
  CHECK(fnv1a_hex("") == "cbf29ce484222325");
  CHECK(fnv1a_hex("a") == "af63dc4c8601ec8c");
  CHECK(fnv1a_hex("foobar") == "85944171f73967e8");
  CHECK(fnv1a_hex(std::string("a\0b", 3)) != fnv1a_hex("ab"));  // every byte counts, NUL included
}
