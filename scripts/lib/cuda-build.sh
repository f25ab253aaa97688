# The CUDA build of libmamlpp, shared by scripts/test.sh (CI: no GPU, PyPI's pinned CUDA LibTorch)
# and scripts/gpu-check.sh (a GPU machine), so that what CI compiles is what the GPU check runs.
# Sourced, not run. Needs: bash, cmake; the CUDA toolkit (nvcc) for a CUDA LibTorch's CMake files.

mamlpp_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pins.sh
. "$mamlpp_lib_dir/pins.sh"

# The pinned wheel's LibTorch, as scripts/deps.sh installs it (empty if it is not there).
mamlpp_pypi_torch_root() {
  local root=${MAMLPP_DEPS_PREFIX:-$MAMLPP_DEPS_PREFIX_DEFAULT}/torch-$MAMLPP_TORCH_PIN/torch
  [ -f "$root/share/cmake/Torch/TorchConfig.cmake" ] && echo "$root"
}

# nvcc where PyTorch's CMake files look for it (PATH, CUDA_HOME, CUDA_PATH, /usr/local/cuda).
mamlpp_find_nvcc() {
  local d
  command -v nvcc 2>/dev/null && return 0
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    [ -n "$d" ] && [ -x "$d/bin/nvcc" ] && { echo "$d/bin/nvcc"; return 0; }
  done
  return 1
}

# mamlpp_cuda_configure SOURCE_DIR BUILD_DIR LIBTORCH [cmake args...]
#   LIBTORCH: `pypi` (the pinned wheel) or a LibTorch root (see cmake/MamlppTorch.cmake).
# Every target (library, command, tests, examples), Release, CUDA required: a LibTorch without
# CUDA, too old, or without its CUDA toolkit stops here with one CMake error.
mamlpp_cuda_configure() {
  local src=$1 build=$2 libtorch=$3
  shift 3
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    "-DMAMLPP_LIBTORCH=$libtorch" -DMAMLPP_CUDA=ON \
    -DMAMLPP_BUILD_TESTS=ON -DMAMLPP_BUILD_CLI=ON -DMAMLPP_BUILD_EXAMPLES=ON "$@"
}

# mamlpp_cuda_build BUILD_DIR JOBS
mamlpp_cuda_build() {
  cmake --build "$1" -j"$2"
}

# mamlpp_cuda_probes BUILD_DIR: the configure-time probes' results, one line each.
mamlpp_cuda_probes() {
  local cache=$1/CMakeCache.txt name
  for name in MAMLPP_HAVE_CUDA_MEMORY_STATS MAMLPP_HAVE_NCCL MAMLPP_HAVE_GLOO; do
    if grep -q "^$name:INTERNAL=1$" "$cache"; then
      echo "$name: yes"
    else
      echo "$name: NO (see $1/CMakeFiles/CMakeError.log)"
    fi
  done
}

# mamlpp_gpu_skips BUILD_DIR: the "skipped: no GPU" lines of the last ctest run there, counted.
mamlpp_gpu_skips() {
  local log=$1/Testing/Temporary/LastTest.log
  [ -f "$log" ] || return 0
  grep -ho "skipped: no GPU[^\"]*" "$log" | sort | uniq -c | sed 's/^ */  /' || true
}
