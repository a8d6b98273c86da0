#!/usr/bin/env bash
# Prints one hash of every source and build file, so that a prebuilt GPU bundle can be matched to the
# sources it was built from (works without git, as on the device machine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
find CMakeLists.txt engine cpu cuda layers models data train infer eval tools tests bench -type f \
  \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name 'CMakeLists.txt' -o -name '*.in' \) \
  2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
