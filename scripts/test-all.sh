#!/usr/bin/env bash
# Installs, builds and runs every test: the Release build (unit, peer and slow peer
# suites), then the Debug+ASan+UBSan build running the unit and peer suites. The peer
# suite (label "peers") runs the peer libraries at test time; "peers-slow" runs whole
# real models through llama.cpp and gguf-py (minutes), so only the Release build has it.
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
  ctest --preset "$preset" -L '^peers$' -j2
  if [ "$preset" = release ]; then
    echo "=== slow peer tests (real models): $preset"
    ctest --preset "$preset" -L peers-slow -j2
  fi
done
