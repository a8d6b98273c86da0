#!/usr/bin/env bash
# Installs the Debian 12 packages Pleura builds with, when some are missing (apt-get, as root or
# through sudo). Does nothing when all are present. PLEURA_INSTALL_TORCH=1 adds python3-torch,
# PLEURA_INSTALL_FUZZ=1 clang and its sanitizer runtimes (scripts/fuzz.sh, scripts/sanitize.sh). The CUDA
# toolkit is not a Debian package: it is used when found (/usr/local/cuda), and Pleura builds for the CPU
# alone without it. OpenMPI gives data-parallel training (mpirun -np N train_unet) and its tests; a build
# without it (cmake -DPLEURA_MPI=OFF) trains in one process. oneDNN (libdnnl-dev) runs the CPU's convolutions;
# a build without it (cmake -DPLEURA_ONEDNN=OFF) keeps im2col + OpenBLAS.
set -euo pipefail

packages=(cmake g++ make python3 libopenblas-dev doctest-dev libstb-dev libjpeg62-turbo-dev libdcmtk-dev libcli11-dev
  nlohmann-json3-dev libinih-dev libopenmpi-dev openmpi-bin libdnnl-dev)
# The PyTorch baseline's CPU check (ctest bench.pytorch_baseline) needs PyTorch; CI asks for it.
[ "${PLEURA_INSTALL_TORCH:-0}" = 1 ] && packages+=(python3-torch)
# scripts/fuzz.sh builds with clang and links libFuzzer and the sanitizer runtimes (libclang-rt-14-dev).
[ "${PLEURA_INSTALL_FUZZ:-0}" = 1 ] && packages+=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "error: packages missing (${missing[*]}) and neither root nor sudo is available to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
