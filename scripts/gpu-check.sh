#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU, build libmamlpp exactly as CI's CUDA build does
# (scripts/lib/cuda-build.sh: the same CMake options and LibTorch checks), run the C++ core and
# C ABI tests with CUDA as the device, benchmark both inner-loop paths, and train a CUDA model in
# a process group (NCCL). Budget: under 8 minutes
# on 16 cores. CPU-only CI never runs the GPU parts; `--dry-run` runs everything else.
#
#   scripts/gpu-check.sh [--dry-run] [out-dir]   (figures and logs go to out-dir, default
#                                                 $OUT or ./gpu-check-out)
#
# The LibTorch: the pinned PyPI wheel where scripts/deps.sh installed it, else the torch package
# that $PYTHON (default python3) imports (a GPU machine may have no network for deps.sh), else
# MAMLPP_GPU_LIBTORCH=<LibTorch root>. Build folder: MAMLPP_GPU_BUILD (default build-cuda, CI's).
#
# --dry-run, for a machine without a GPU: the same LibTorch choice, configure, build, probes and
# summary; the GPU test list instead of the GPU test run; the benchmark's exact commands on the
# CPU, shortened. Exit status: 0 when everything that ran passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/lib/cuda-build.sh"

dry=0
out=
for arg in "$@"; do
  case $arg in
    --dry-run) dry=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "gpu-check.sh: unknown option $arg" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done
out=${out:-${OUT:-$root/gpu-check-out}}
build=${MAMLPP_GPU_BUILD:-$root/build-cuda}
mkdir -p "$out"
log() { echo "[gpu-check $(date +%H:%M:%S)] $*" | tee -a "$out/summary.txt"; }
[ $dry = 1 ] && log "dry run: no GPU is used; GPU steps are listed or run on the CPU"

# 1. The LibTorch and the machine.
python=${PYTHON:-python3}
libtorch=${MAMLPP_GPU_LIBTORCH:-}
if [ -z "$libtorch" ]; then
  if [ -n "$(mamlpp_pypi_torch_root)" ]; then
    libtorch=pypi
    log "LibTorch: PyPI torch $MAMLPP_TORCH_PIN in $(mamlpp_pypi_torch_root) (scripts/deps.sh), as in CI"
  elif libtorch=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null); then
    log "LibTorch: the torch package $python imports, $libtorch ($("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null)); CI pins $MAMLPP_TORCH_PIN"
  else
    log "no LibTorch: run scripts/deps.sh, install torch for $python, or set MAMLPP_GPU_LIBTORCH"
    exit 2
  fi
fi
nvcc=$(mamlpp_find_nvcc) || { log "no CUDA toolkit (nvcc): PyTorch's CMake files need it"; exit 2; }
log "nvcc: $nvcc ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$out/summary.txt"
else
  log "nvidia-smi: not found"
fi
log "cores: $(nproc), build folder: $build"

# 2. Configure and build: CI's CUDA build.
start=$(date +%s)
mamlpp_cuda_configure "$root" "$build" "$libtorch" >"$out/configure.log" 2>&1 || {
  log "configure failed (see configure.log)"; grep -A8 "CMake Error" "$out/configure.log" | head -30; exit 3; }
grep "^-- libmamlpp:" "$out/configure.log" | tee -a "$out/summary.txt"
mamlpp_cuda_probes "$build" | tee -a "$out/summary.txt"
mamlpp_cuda_build "$build" "$(nproc)" >"$out/build.log" 2>&1 || {
  log "build failed (see build.log)"; grep -m20 -E 'error' "$out/build.log"; exit 4; }
log "configured and built in $(( $(date +%s) - start )) s"

# 3. The C++ core and C ABI tests on CUDA (they read MAMLPP_TEST_DEVICE).
status=0
if [ $dry = 1 ]; then
  MAMLPP_TEST_DEVICE=cuda ctest --test-dir "$build" -N -L 'core|capi' >"$out/tests.log" 2>&1
  n=$(sed -n 's/^Total Tests: //p' "$out/tests.log")
  log "core + capi tests on CUDA: would run ${n:-0} tests (listed in tests.log)"
  [ "${n:-0}" -gt 0 ] || status=5
else
  start=$(date +%s)
  # Four test processes at once, each with its share of the cores for LibTorch's OpenMP threads.
  OMP_NUM_THREADS=$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 )) MAMLPP_TEST_DEVICE=cuda ctest --test-dir "$build" -L 'core|capi' --output-on-failure -j4 --timeout 300 \
    >"$out/tests.log" 2>&1
  status=$?
  log "core + capi tests on CUDA: exit $status in $(( $(date +%s) - start )) s ($(grep -E 'tests passed' "$out/tests.log"))"
fi

# 4. The benchmark, both paths; then what deterministic cuDNN costs (docs/DECISIONS.md): the same,
#    letting cuDNN pick any algorithm. A dry run runs the same commands on the CPU, one short step.
cli=$build/src/cli/mamlpp
device=cuda
quick=()
if [ $dry = 1 ]; then
  device=cpu
  quick=(--warmup 0 --iters 1 --adapt-iters 1 --predict-iters 1)
fi
bench() {  # bench NAME CONFIGS [VAR=value...] [-- bench options...]
  local name=$1 configs=$2 t rc envs=() extra=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  extra=("$@")
  [ $dry = 1 ] && configs=omniglot-5w1s
  t=$(date +%s)
  env "${envs[@]}" "$cli" bench --device "$device" --configs "$configs" "${quick[@]}" "${extra[@]}" \
    --json "$out/$name.json" >"$out/$name.txt" 2>&1
  rc=$?
  log "$name on $device ($configs ${envs[*]} ${extra[*]}): exit $rc in $(( $(date +%s) - t )) s"
  cat "$out/$name.txt"
  [ $rc = 0 ] || status=6
}
bench bench-cuda omniglot-5w1s,omniglot-20w1s,mini-5w1s
# What deterministic cuDNN costs: the same, letting cuDNN pick any algorithm.
bench bench-cuda-nondeterministic omniglot-5w1s,omniglot-20w1s -- --cuda-nondeterministic
# 5. Distributed meta-training on the GPU: a group of one process whose CUDA model reduces over
#    NCCL (several ranks need several GPUs; tests/dist covers them on the CPU with Gloo). A dry run
#    runs the same on the CPU (Gloo).
worker=$build/tests/dist/dist_worker
dist_args=(--steps 3 --tasks 4 --out "$out/dist")
[ $dry = 1 ] || dist_args+=(--cuda)
t=$(date +%s)
RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$(( 20000 + RANDOM % 20000 )) \
  "$worker" "${dist_args[@]}" >"$out/dist.txt" 2>&1
rc=$?
log "distributed group of one ($([ $dry = 1 ] && echo "CPU, Gloo" || echo "CUDA, NCCL")): exit $rc in $(( $(date +%s) - t )) s"
cat "$out/dist.txt"
{ [ $rc = 0 ] && grep -q "DONE step 3" "$out/dist.txt"; } || status=7
command -v nvidia-smi >/dev/null 2>&1 &&
  nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader 2>/dev/null | tee -a "$out/summary.txt"
log "done: exit $status"
exit $status
