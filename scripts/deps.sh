#!/usr/bin/env bash
# Installs what libmamlpp needs from Debian 12's packages (run as root). Does nothing for packages
# already present, so it is cheap to run again.
set -euo pipefail
packages=(
  build-essential cmake pkg-config ccache git
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-openmp     # a real BLAS for LibTorch's matrix products (Debian defaults to the reference BLAS)
  nlohmann-json3-dev      # file headers, configs
  libzip-dev zipcmp zipmerge ziptool  # Omniglot archives (libzip's CMake config wants its tools)
  libpng-dev libjpeg-dev  # image datasets
  libcli11-dev            # the mamlpp command
  libgtest-dev libcmocka-dev valgrind clang libclang-rt-14-dev  # tests, sanitizers, fuzzing
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Toolchains for the bindings: Debian's, unless the machine already has one on PATH.
command -v python3 >/dev/null || missing+=(python3)
command -v go >/dev/null || missing+=(golang-go)
command -v cargo >/dev/null || missing+=(cargo)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
