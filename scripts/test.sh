#!/usr/bin/env bash
# Installs what is missing, then builds libmamlpp with its tests and runs every test, against both
# LibTorch lines:
#   1. Debian's LibTorch 1.13 (CPU): the C++ core, the C ABI (plain, then under AddressSanitizer +
#      UndefinedBehaviorSanitizer), the file format (plus a bounded libFuzzer run), data, the
#      command line, install, examples and every binding;
#   2. PyPI's LibTorch (torch 2.12.1, scripts/lib/pins.sh) with CUDA on, in build-cuda: every
#      target, and the same suite on the CPU but valgrind (no GPU here: the tests that need one
#      print "skipped: no GPU", listed at the end). The CUDA code paths are compiled and linked.
# This is the README's test command and what CI runs (.ci/run).
#
# Environment: MAMLPP_JOBS (parallel jobs, default 2), MAMLPP_FUZZ_SECONDS (per fuzz target, 30),
# MAMLPP_PYPI_TORCH=0 (skip the PyPI LibTorch: no download, no CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${MAMLPP_JOBS:-2}
. scripts/lib/cuda-build.sh
t0=$(date +%s)
stage() { echo "== test.sh [$(( $(date +%s) - t0 )) s] $*"; }

bash scripts/deps.sh

stage "1. Debian's LibTorch 1.13 (CPU): build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMAMLPP_BUILD_TESTS=ON -DMAMLPP_BUILD_CLI=ON -DMAMLPP_BUILD_EXAMPLES=ON
cmake --build build -j"$jobs"
stage "1. Debian's LibTorch 1.13 (CPU): tests"
ctest --test-dir build --output-on-failure -j"$jobs"

stage "1. the C ABI under ASan + UBSan"
bash tests/capi/run_sanitized.sh
# Bounded fuzzing (about a minute in all): the format decoder, then the whole C ABI loader.
stage "1. fuzzing"
bash tests/fuzz/run.sh "${MAMLPP_FUZZ_SECONDS:-30}" fuzz_model_file
bash tests/fuzz/run.sh "${MAMLPP_FUZZ_SECONDS:-30}" fuzz_load_buffer

if [ "${MAMLPP_PYPI_TORCH:-1}" = 0 ]; then
  stage "2. skipped: the CUDA build (MAMLPP_PYPI_TORCH=0)"
  exit 0
fi
if ! mamlpp_find_nvcc >/dev/null; then
  # The project's machines carry the CUDA toolkit; elsewhere its absence is a skip, in CI an error.
  if [ "${CI:-}" = true ]; then
    echo "test.sh: no CUDA toolkit (nvcc) on this CI machine: the CUDA build cannot be configured" >&2
    exit 1
  fi
  stage "2. skipped: the CUDA build (no CUDA toolkit: nvcc not found on PATH, CUDA_HOME or /usr/local/cuda)"
  exit 0
fi
stage "2. PyPI's LibTorch $MAMLPP_TORCH_PIN with CUDA: build (build-cuda)"
mamlpp_cuda_configure . build-cuda pypi
mamlpp_cuda_probes build-cuda
mamlpp_cuda_build build-cuda "$jobs"
stage "2. PyPI's LibTorch $MAMLPP_TORCH_PIN with CUDA: the CPU suite"
# All but two things done once above: valgrind's memcheck of libmamlpp's own code (under
# memcheck the CUDA LibTorch takes about 8 minutes per run to load, and memcheck reports inside
# its loader, libcublasLt's dlopen, and LibTorch 2.12's own code, not in libmamlpp), and
# scripts/reproduce.py's smoke run (a Python driver of the same command line).
# One OpenMP thread per test process: ctest already runs $jobs at once. LibTorch 2.x starts one
# OpenMP thread per core in every process (Debian's 1.13 one in all), and OpenMP threads
# waiting on each other across oversubscribed cores made the suite 10 to 20 times slower.
OMP_NUM_THREADS=1 ctest --test-dir build-cuda --output-on-failure -j"$jobs" -LE "valgrind|readme|reproduce"
echo "Tests that need a GPU (none here):"
mamlpp_gpu_skips build-cuda
stage "done"
