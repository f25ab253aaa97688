#!/usr/bin/env bash
# Distributed meta-training figures (docs/BENCHMARKS.md, "Several processes"), on this machine:
#   1. the all-reduce of one step's packet for the default Omniglot model (its gradient: 114k
#      float32 values, sent as the same number of bytes of doubles) over Gloo on loopback;
#   2. seconds per meta-train step of the default Omniglot 5-way 1-shot model (second order, B = 8,
#      synthetic 28x28 data) in 1 process with 2 task threads against 2 ranks x 1 thread (torchrun;
#      one OpenMP thread per task thread in both, as torchrun sets):
#      equal work on the same 2 cores, so the difference is what scaling out costs.
#
#   scripts/bench-dist.sh [BUILD_DIR] [STEPS]     (default build, 10 timed steps)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
steps=${2:-10}
mamlpp=$build/src/cli/mamlpp
worker=$build/tests/dist/dist_worker
[ -x "$mamlpp" ] && [ -x "$worker" ] || { echo "bench-dist.sh: build $build with tests first" >&2; exit 1; }
tr=(torchrun)
case "$(readlink -f "$(command -v torchrun)")" in /usr/bin/*) tr+=(--redirects 9:1 --tee 9:1) ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== 1. all-reduce of one step's packet (457 KB) over Gloo, loopback"
for world in 2; do
  "${tr[@]}" --no_python --standalone --nproc_per_node=$world "$worker" --bench-allreduce 57152 --iters 200
done

echo "== 2. seconds per step, default Omniglot model, second order, B = 8 ($steps timed steps after 2 warm-up)"
args=(train --epochs 2 --iters-per-epoch "$steps" --batch-size 8 --val-tasks 0 --no-progress
      --set first_order_epochs=0)
# Epoch 1 warms up (its first steps allocate); epoch 2's time is the figure.
OMP_NUM_THREADS=1 "$mamlpp" "${args[@]}" --threads 2 --out "$work/one" | grep '^epoch 2/' |
  sed 's/^/1 process, 2 threads:  /'
"${tr[@]}" --no_python --standalone --nproc_per_node=2 "$mamlpp" "${args[@]}" --threads 1 --out "$work/two" |
  grep '^epoch 2/' | sed 's/^/2 ranks x 1 thread:   /'
