#!/bin/sh
# The ABI surface of libmamlpp.so: its SONAME, and exactly the maml_* functions the public header
# declares as its exported dynamic symbols (no LibTorch, c10, libstdc++ or internal symbol).
#
#   check_symbols.sh LIBRARY HEADER [NM] [READELF]
set -eu

lib=$1
header=$2
nm=${3:-nm}
readelf=${4:-readelf}

fail() { echo "check_symbols.sh: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# SONAME
soname=$("$readelf" -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
echo "SONAME: $soname"
[ "$soname" = "libmamlpp.so.1" ] || fail "SONAME is '$soname', expected libmamlpp.so.1"

# Exported (defined, dynamic) symbols. The version script's node (MAMLPP_1) shows up as an
# absolute symbol; it is the version tag, not code.
"$nm" -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | sort -u > "$tmp/exported"
"$nm" -D --defined-only "$lib" | awk '$2 == "A" { print $3 }' | sort -u > "$tmp/versions"
echo "exported: $(wc -l < "$tmp/exported") symbols; version nodes: $(tr '\n' ' ' < "$tmp/versions")"
if grep -v '^maml_' "$tmp/exported" > "$tmp/foreign"; then
  echo "symbols outside maml_*:" >&2
  head -50 "$tmp/foreign" >&2
  fail "$(wc -l < "$tmp/foreign") exported symbols are not maml_*"
fi
grep -qvx 'MAMLPP_1' "$tmp/versions" && fail "unexpected version nodes: $(cat "$tmp/versions")"

# Every symbol is versioned MAMLPP_1.
"$nm" -D --defined-only --with-symbol-versions "$lib" 2>/dev/null | awk '$2 != "A" { print $3 }' |
  grep -v '@@MAMLPP_1$' > "$tmp/unversioned" && fail "symbols without the MAMLPP_1 version: $(cat "$tmp/unversioned")"

# The header's functions: every MAML_API declaration. Exported == declared.
tr '\n' ' ' < "$header" | sed 's/;/;\n/g' | grep 'MAML_API' |
  sed -n 's/.*[^A-Za-z0-9_]\(maml_[A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' | sort -u > "$tmp/declared"
echo "declared in $(basename "$header"): $(wc -l < "$tmp/declared") functions"
[ -s "$tmp/declared" ] || fail "found no MAML_API declarations in $header"
if ! diff "$tmp/declared" "$tmp/exported" > "$tmp/diff"; then
  echo "< declared but not exported, > exported but not declared:" >&2
  cat "$tmp/diff" >&2
  fail "the exported symbols differ from the header's declarations"
fi
echo "check_symbols.sh: ok"
