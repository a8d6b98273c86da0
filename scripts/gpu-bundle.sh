#!/usr/bin/env bash
# Builds the GPU test and benchmark binaries here (Release, sm_90 by default) and packs them, with the
# shared libraries the device machine may lack (OpenBLAS, gfortran, DCMTK, ...), into .gpu-bundle/,
# so that scripts/gpu-check.sh can run on a lent GPU machine without compiling there.
# The CUDA libraries themselves (cuBLAS, cuDNN) are not packed: gpu-check.sh finds them there.
# Usage: scripts/gpu-bundle.sh [ARCH]   (e.g. 90, the default; "80;90" for several)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arch=${1:-90}
build=$root/build-gpu
bundle=$root/.gpu-bundle

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPLEURA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
cmake --build "$build" -j "$(nproc)"

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
cp "$build/tests/pleura_tests" "$bundle/bin/"
find "$build/bench" -maxdepth 2 -type f -executable -name 'bench_*' -exec cp {} "$bundle/bin/" \;
cp "$build/bench/bench_unet" "$bundle/bin/"

# Every non-system, non-CUDA library the binaries load.
for bin in "$bundle"/bin/*; do
  ldd "$bin" | awk '/=> \// {print $3}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libstdc++*|libgcc_s*|ld-linux*|libpthread*|libdl.so*|librt.so*) ;;
    libcublas*|libcudnn*|libcuda.so*|libcudart*) ;;
    *) cp -L "$lib" "$bundle/lib/" ;;
  esac
done
(cd "$bundle" && tar -cJf libs.tar.xz lib && rm -rf lib)
"$root/scripts/source-hash.sh" > "$bundle/source-hash"
echo "arch $arch" > "$bundle/build-info"
du -sh "$bundle"
ls -la "$bundle" "$bundle/bin"
