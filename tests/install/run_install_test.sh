#!/bin/sh
# Installs the current build into a temporary prefix and builds a small C program against the
# installed tree twice: with CMake's find_package(mamlpp) (target mamlpp::mamlpp) and with
# pkg-config. Both must print the version and create/free a model, using the installed library.
#
#   run_install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR [CMAKE] [CC]
#
# The build must be complete (cmake --install installs every target that has an install rule).
set -eu

build=$1
src=$2
work=$3
cmake=${4:-cmake}
cc=${5:-cc}

fail() { echo "run_install_test.sh: FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

echo "== cmake --install $build --prefix $prefix"
"$cmake" --install "$build" --prefix "$prefix" || fail "cmake --install"

# What a package holds.
libdir=
for d in "$prefix"/lib "$prefix"/lib64 "$prefix"/lib/*-linux-gnu; do
  if [ -e "$d/libmamlpp.so" ]; then libdir=$d; break; fi
done
[ -n "$libdir" ] || fail "no libmamlpp.so under $prefix"
[ -f "$prefix/include/mamlpp/mamlpp.h" ] || fail "no include/mamlpp/mamlpp.h"
cmp -s "$prefix/include/mamlpp/mamlpp.h" "$src/include/mamlpp/mamlpp.h" ||
  fail "the installed header differs from include/mamlpp/mamlpp.h"
[ -L "$libdir/libmamlpp.so" ] || fail "libmamlpp.so is not a symlink (to the SONAME)"
[ -L "$libdir/libmamlpp.so.1" ] || fail "libmamlpp.so.1 (the SONAME) is missing"
[ -f "$libdir/cmake/mamlpp/mamlppConfig.cmake" ] || fail "no CMake package file"
[ -f "$libdir/cmake/mamlpp/mamlppConfigVersion.cmake" ] || fail "no CMake package version file"
[ -f "$libdir/pkgconfig/mamlpp.pc" ] || fail "no pkg-config file"

# Run a consumer; it must use the installed library, not the build tree's.
check_consumer() {
  exe=$1
  how=$2
  resolved=$(LD_LIBRARY_PATH=$libdir ldd "$exe" | sed -n 's/^[[:space:]]*libmamlpp\.so\.1 => \([^ ]*\).*/\1/p')
  case $resolved in
    "$libdir"/*) ;;
    *) fail "$how: the consumer resolves libmamlpp.so.1 to '$resolved', not into $libdir" ;;
  esac
  out=$(LD_LIBRARY_PATH=$libdir "$exe") || fail "$how: the consumer failed"
  echo "$out"
  echo "$out" | grep -q "^libmamlpp 1\.[0-9]*\.[0-9]* (header 1\.[0-9]*\.[0-9]*, ABI 1)$" ||
    fail "$how: no version line"
  echo "$out" | grep -q "^created and freed a model with [1-9][0-9]* parameters$" ||
    fail "$how: no model line"
}

echo "== find_package(mamlpp) consumer"
"$cmake" -S "$src/tests/install/consumer" -B "$work/consumer-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Release ||
  fail "configuring the find_package consumer"
"$cmake" --build "$work/consumer-build" || fail "building the find_package consumer"
check_consumer "$work/consumer-build/consumer" "find_package"

echo "== pkg-config consumer"
command -v pkg-config >/dev/null 2>&1 || { echo "pkg-config not found: skipped"; exit 0; }
# The .pc file is relocatable (prefix=${pcfiledir}/...): installed to a prefix other than the
# configured one, it must still point into it.
PKG_CONFIG_PATH=$libdir/pkgconfig
export PKG_CONFIG_PATH
pkg-config --exists mamlpp || fail "pkg-config does not find mamlpp"
version=$(pkg-config --modversion mamlpp)
echo "pkg-config: mamlpp $version"
header_version=$(for part in MAJOR MINOR PATCH; do
  sed -n "s/^#define MAMLPP_VERSION_$part \([0-9]*\)$/\1/p" "$src/include/mamlpp/mamlpp.h"; done | paste -sd.)
[ "$version" = "$header_version" ] || fail "pkg-config version $version differs from the header's $header_version"
flags=$(pkg-config --cflags --libs mamlpp)
echo "pkg-config --cflags --libs mamlpp: $flags"
real_prefix=$(cd "$prefix" && pwd -P)
for flag in $flags; do
  case $flag in
    -I*|-L*)
      dir=${flag#-?}
      [ -d "$dir" ] || fail "pkg-config gives $flag: no such directory"
      case $(cd "$dir" && pwd -P) in
        "$real_prefix"/*) ;;
        *) fail "pkg-config gives $flag, outside the install prefix $prefix" ;;
      esac ;;
  esac
done
# shellcheck disable=SC2086
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror "$src/tests/install/consumer/main.c" $flags \
  -o "$work/consumer-pc" || fail "building the pkg-config consumer"
check_consumer "$work/consumer-pc" "pkg-config"

echo "run_install_test.sh: ok"
