#!/usr/bin/env bash
# Installs what is missing, builds libmamlpp with its tests, and runs every test: the C++ core,
# the C ABI (plain, then under AddressSanitizer + UndefinedBehaviorSanitizer), the file format
# (plus a bounded libFuzzer run), data, the command line, install, examples and every binding.
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${MAMLPP_JOBS:-2}

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMAMLPP_BUILD_TESTS=ON -DMAMLPP_BUILD_CLI=ON -DMAMLPP_BUILD_EXAMPLES=ON
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

bash tests/capi/run_sanitized.sh
# Bounded fuzzing (about a minute in all): the format decoder, then the whole C ABI loader.
bash tests/fuzz/run.sh "${MAMLPP_FUZZ_SECONDS:-30}" fuzz_model_file
bash tests/fuzz/run.sh "${MAMLPP_FUZZ_SECONDS:-30}" fuzz_load_buffer
