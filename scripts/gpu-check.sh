#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU and PyTorch installed, build libmamlpp against the
# CUDA LibTorch bundled inside PyTorch, run the C++ core and C ABI tests with CUDA as the device,
# and run the benchmark for both inner-loop paths. Budget: under 8 minutes on 16 cores.
# CPU-only CI never runs this.
#
#   scripts/gpu-check.sh [out-dir]     (figures and logs go to out-dir, default ./gpu-check-out)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$root/gpu-check-out}}
build=${MAMLPP_GPU_BUILD:-$root/build-gpu}
mkdir -p "$out"
log() { echo "[gpu-check $(date +%H:%M:%S)] $*" | tee -a "$out/summary.txt"; }

python=${PYTHON:-python3}
prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null) || {
  log "PyTorch is not importable with $python: cannot find a CUDA LibTorch"; exit 2; }
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  "gpus", torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' \
  | tee -a "$out/summary.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee -a "$out/summary.txt"

# What this machine lacks is left out of the build rather than failing it: the core library, its
# C ABI and the benchmark need only LibTorch and nlohmann-json.
opts=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$prefix" -DMAMLPP_BUILD_EXAMPLES=OFF)
pkg-config --exists libzip 2>/dev/null || log "libzip missing: datasets from archives are not built"
start=$(date +%s)
cmake -S "$root" -B "$build" "${opts[@]}" >"$out/configure.log" 2>&1 || {
  log "configure failed (see configure.log)"; tail -20 "$out/configure.log"; exit 3; }
cmake --build "$build" -j"$(nproc)" >"$out/build.log" 2>&1 || {
  log "build failed (see build.log)"; grep -m20 -E 'error' "$out/build.log"; exit 4; }
log "configured and built in $(( $(date +%s) - start )) s"
if grep -q '^MAMLPP_HAVE_CUDA_MEMORY_STATS:INTERNAL=1' "$build/CMakeCache.txt"; then
  log "GPU memory statistics: on (maml_cuda_memory, the bench's dev MiB column)"
else
  log "GPU memory statistics: OFF, the allocator probe failed (see CMakeFiles/CMakeError.log or configure.log)"
fi

# Tests on CUDA: the C ABI and core tests read MAMLPP_TEST_DEVICE.
export MAMLPP_TEST_DEVICE=cuda
start=$(date +%s)
ctest --test-dir "$build" -L 'core|capi' --output-on-failure -j4 --timeout 300 >"$out/tests.log" 2>&1
status=$?
log "core + capi tests on CUDA: exit $status in $(( $(date +%s) - start )) s ($(grep -E 'tests passed' "$out/tests.log"))"

# The benchmark, both paths.
cli=$build/src/cli/mamlpp
if [ -x "$cli" ]; then
  start=$(date +%s)
  "$cli" bench --device cuda --json "$out/bench-cuda.json" >"$out/bench-cuda.txt" 2>&1
  log "bench on CUDA: exit $? in $(( $(date +%s) - start )) s"
  cat "$out/bench-cuda.txt"
  # What deterministic cuDNN costs (docs/DECISIONS.md): the same, letting cuDNN pick any algorithm.
  start=$(date +%s)
  MAMLPP_CUDNN_DETERMINISTIC=0 "$cli" bench --device cuda --configs omniglot-5w1s,omniglot-20w1s \
    --json "$out/bench-cuda-nondeterministic.json" >"$out/bench-cuda-nondeterministic.txt" 2>&1
  log "bench on CUDA, nondeterministic cuDNN: exit $? in $(( $(date +%s) - start )) s"
  cat "$out/bench-cuda-nondeterministic.txt"
else
  log "the mamlpp command was not built (missing CLI11/libzip?): no benchmark"
fi
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader 2>/dev/null | tee -a "$out/summary.txt"
exit $status
