#!/usr/bin/env bash
# Installs what libmamlpp needs (run as root). Does nothing for what is already present, so it is
# cheap to run again:
#   - Debian 12's packages, among them LibTorch 1.13 (CPU), the default LibTorch;
#   - PyPI's torch wheel, pinned in scripts/lib/pins.sh (2.12.1, CUDA 13), once per machine into
#     $MAMLPP_DEPS_PREFIX/torch-<pin> (default /opt/mamlpp-deps/torch-2.12.1), outside any checkout:
#     the CUDA LibTorch that `cmake -DMAMLPP_LIBTORCH=pypi` builds against. About 4.7 GB.
#
#   scripts/deps.sh [--no-pypi-torch | --pypi-torch]
#
# The wheel is installed when the CUDA toolkit (nvcc) is there, as on the project's machines: a
# CUDA LibTorch's CMake files need it, so without it the wheel could not be built against.
# --no-pypi-torch (MAMLPP_PYPI_TORCH=0) skips the wheel: the README's first command, which builds
# against Debian's LibTorch, passes it. --pypi-torch (MAMLPP_PYPI_TORCH=1) installs it regardless.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/pins.sh
. "$here/lib/pins.sh"

pypi_torch=${MAMLPP_PYPI_TORCH:-auto}
for arg in "$@"; do
  case $arg in
    --no-pypi-torch) pypi_torch=0 ;;
    --pypi-torch) pypi_torch=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "deps.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$pypi_torch" = auto ]; then
  # shellcheck source=lib/cuda-build.sh
  if (. "$here/lib/cuda-build.sh" && mamlpp_find_nvcc >/dev/null); then
    pypi_torch=1
  else
    pypi_torch=0
    echo "deps.sh: no CUDA toolkit (nvcc): PyPI's CUDA torch skipped (--pypi-torch installs it anyway)"
  fi
fi

packages=(
  build-essential cmake pkg-config ccache git
  libtorch-dev            # LibTorch 1.13 (CPU)
  libopenblas0-openmp     # a real BLAS for LibTorch's matrix products (Debian defaults to the reference BLAS)
  nlohmann-json3-dev      # file headers, configs
  libzip-dev zipcmp zipmerge ziptool  # Omniglot archives (libzip's CMake config wants its tools)
  libpng-dev libjpeg-dev  # image datasets
  libcli11-dev            # the mamlpp command
  libgloo-dev             # Gloo's headers, for c10d's ProcessGroupGloo (distributed meta-training)
  python3-torch           # torchrun, the launcher of distributed runs (and its tests)
  librsvg2-bin            # rsvg-convert: PNG copies of scripts/reproduce.sh's SVG charts
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

# PyPI's torch: installed with pip --target into a prefix of its own. pip skips its PEP 668
# "externally managed" check for --target (nothing of the system Python changes), so Debian's
# /usr/bin/python3 works as it is; Debian's python3 has no pip until python3-pip is installed.
python=${PYTHON:-python3}
prefix=${MAMLPP_DEPS_PREFIX:-$MAMLPP_DEPS_PREFIX_DEFAULT}
dest=$prefix/torch-$MAMLPP_TORCH_PIN
torch_present() {
  [ -f "$dest/torch/share/cmake/Torch/TorchConfig.cmake" ] && [ -d "$dest/torch-$MAMLPP_TORCH_PIN.dist-info" ]
}
if [ "$pypi_torch" != 0 ] && ! torch_present; then
  { command -v "$python" >/dev/null && "$python" -m pip --version >/dev/null 2>&1; } || missing+=(python3-pip)
fi

if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$pypi_torch" = 0 ]; then
  echo "deps.sh: PyPI torch skipped"
elif torch_present; then
  echo "deps.sh: torch $MAMLPP_TORCH_PIN already in $dest"
else
  # Into a scratch folder first, renamed when complete: an interrupted install never looks present.
  mkdir -p "$prefix"
  tmp=$(mktemp -d "$prefix/.torch-$MAMLPP_TORCH_PIN.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "deps.sh: installing torch==$MAMLPP_TORCH_PIN from PyPI into $dest (about 4.7 GB, a few minutes)"
  start=$(date +%s)
  "$python" -m pip install --no-cache-dir --disable-pip-version-check --no-warn-script-location \
    --progress-bar off --only-binary=:all: --target "$tmp" "torch==$MAMLPP_TORCH_PIN"
  [ -f "$tmp/torch/share/cmake/Torch/TorchConfig.cmake" ] ||
    { echo "deps.sh: the torch wheel has no share/cmake/Torch/TorchConfig.cmake" >&2; exit 1; }
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  echo "deps.sh: torch $MAMLPP_TORCH_PIN installed in $dest in $(( $(date +%s) - start )) s"
fi
