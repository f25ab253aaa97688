#!/usr/bin/env bash
# Reproduces the MAML++ paper's claims with libmamlpp on real Omniglot, within a time budget, and
# writes the report (docs/RESULTS.md with SVG and PNG charts under docs/results/):
#
#   scripts/reproduce.sh --data-dir DIR [--minutes 90] [--runs runs/reproduce] [--report docs/RESULTS.md]
#
# DIR holds Omniglot's images_background.zip and images_evaluation.zip. --minutes sizes every run
# from this project's 2-core machine's step times, as minutes of training; evaluation and charts
# add about 2 (90, the full set, took 95 minutes here; 8, a small set of the same structure, 10.5). Killed, it resumes where it stopped when run again with the same arguments
# (finished runs are kept, an interrupted one continues from its last epoch). Builds the
# `mamlpp` command first if ./build has none (cmake, as the README's first command does).
# scripts/reproduce.py --help lists every option.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x build/src/cli/mamlpp ] && ! printf '%s\n' "$@" | grep -q -- '--mamlpp'; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMAMLPP_BUILD_CLI=ON >/dev/null
  cmake --build build -j"${MAMLPP_JOBS:-2}" --target mamlpp
fi
exec python3 scripts/reproduce.py "$@"
