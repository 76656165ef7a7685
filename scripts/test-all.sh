#!/usr/bin/env bash
# Installs, builds and runs every test: the Release build (unit + peer suites), then
# the Debug+ASan+UBSan build running the same tests. The peer suite (label "peers")
# runs the peer libraries at test time and is listed separately so its time shows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/lowbit-ccache}

for preset in release asan; do
  echo "=== build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "=== unit tests: $preset"
  ctest --preset "$preset" -L unit -j2
  echo "=== peer tests: $preset"
  ctest --preset "$preset" -L peers -j2
done
