#!/usr/bin/env bash
# Builds the binaries scripts/gpu-check.sh runs (Release, sm_90 by default) and packs them, with the
# shared libraries the device machine may lack (OpenBLAS, gfortran, DCMTK, ...), into .gpu-bundle/, so
# that the prepared GPU call compiles nothing there. The CUDA libraries themselves (cuBLAS, cuDNN) are not
# packed: gpu-check.sh finds them on the device machine. The bundle must stay under the device's 64 MiB
# carry limit with the sources (gpu-check.sh --dry-run checks it and that it matches the sources).
# Usage: scripts/gpu-bundle.sh [ARCH]   (e.g. 90, the default; "80;90" for several)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
arch=${1:-90}
build=$root/build-gpu
bundle=$root/.gpu-bundle
programs=(tests/pleura_tests bench/bench_unet bench/bench_cuda_ops train_unet infer_unet make_demo_data prepare_data)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPLEURA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${programs[@]##*/}"

rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
for p in "${programs[@]}"; do
  cp "$build/$p" "$bundle/bin/"
done
strip --strip-unneeded "$bundle"/bin/*

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
echo "arch $arch, built $(date -u +%Y-%m-%dT%H:%MZ) from $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  > "$bundle/build-info"
du -sh "$bundle"
ls -la "$bundle" "$bundle/bin"
