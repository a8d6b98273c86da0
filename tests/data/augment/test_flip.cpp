// HorizontalFlip: worked example and flip-twice identity.
#include "data/augment/flip.h"
#include "tests/data/augment/augment_testing.h"

using namespace pleura;
using namespace pleura::augment;
using namespace pleura::augment::testing;

TEST_CASE("augment flip: rows are mirrored, and flipping twice is the identity") {
  GrayImage g = image_from(2, 3, {1, 2, 3, 4, 5, 6});
  hflip(g);
  CHECK(count_differences(g, image_from(2, 3, {3, 2, 1, 6, 5, 4})) == 0);
  const GrayImage src = random_image(17, 10, 4);
  GrayImage twice = src;
  hflip(twice);
  CHECK(count_differences(twice, src) > 0);
  hflip(twice);
  CHECK(count_differences(twice, src) == 0);
}
