#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in their own build directory and fuzzes for a bounded
# time over a scratch copy of the committed seed corpus (new inputs never dirty the tree).
#
#   tests/fuzz/run.sh [seconds=60] [target=fuzz_model_file]
#
# Environment: MAMLPP_FUZZ_BUILD (build directory, default <repo>/build-fuzz),
#              MAMLPP_FUZZ_REGEN=1 (rewrite tests/fuzz/corpus/ from the current encoder first),
#              JOBS (build parallelism, default 2).
# Findings (crashing inputs) are written to $MAMLPP_FUZZ_BUILD/fuzz-artifacts/; exit status 0
# means nothing was found.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
target=${2:-fuzz_model_file}
build=${MAMLPP_FUZZ_BUILD:-$root/build-fuzz}
corpus=$root/tests/fuzz/corpus
work=$root/tests/fuzz/corpus-work  # ignored by git

cmake -S "$root" -B "$build" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMAMLPP_FUZZ=ON -DMAMLPP_BUILD_TESTS=OFF -DMAMLPP_BUILD_CLI=OFF \
  -DMAMLPP_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target "$target" fuzz_make_corpus

if [[ "${MAMLPP_FUZZ_REGEN:-0}" == 1 || ! -d "$corpus" || -z "$(ls -A "$corpus" 2>/dev/null)" ]]; then
  mkdir -p "$corpus"
  "$build/tests/fuzz/fuzz_make_corpus" "$corpus"
fi

rm -rf "$work"
mkdir -p "$work" "$build/fuzz-artifacts"
cp "$corpus"/* "$work"/
exec "$build/tests/fuzz/$target" "$work" \
  -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/"
