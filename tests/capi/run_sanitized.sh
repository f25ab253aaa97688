#!/bin/sh
# Builds libmamlpp and the C ABI tests with AddressSanitizer + UndefinedBehaviorSanitizer (and
# LeakSanitizer, part of ASan) in a separate build directory, and runs the "capi" tests there.
#
#   tests/capi/run_sanitized.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build-sanitize beside this checkout's sources. Environment:
#   MAMLPP_SANITIZE   the -fsanitize= list (default: address,undefined)
#   JOBS              parallel build and test jobs (default: 2)
#   CC, CXX           compilers (default: CMake's choice; gcc and clang both work)
# Only what the tests need is built: libmamlpp (with the core and io libraries folded into it) and
# the test programs. LibTorch itself is not instrumented; see tests/capi/CMakeLists.txt for the
# runtime options and lsan.supp / ubsan.supp for the suppressions.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build-sanitize}
sanitize=${MAMLPP_SANITIZE:-address,undefined}
jobs=${JOBS:-2}

start=$(date +%s)
cmake -S "$src" -B "$build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMAMLPP_SANITIZE="$sanitize" \
  -DMAMLPP_BUILD_CLI=OFF -DMAMLPP_BUILD_EXAMPLES=OFF \
  -DMAMLPP_BUILD_TESTS=ON

cmake --build "$build" -j "$jobs" --target capi_tests

cd "$build"
ctest -L capi -j "$jobs" --output-on-failure
echo "run_sanitized.sh: passed in $(( $(date +%s) - start )) s ($sanitize)"
