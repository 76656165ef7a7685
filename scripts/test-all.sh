#!/usr/bin/env bash
# Installs, builds and runs every test: the Release build (unit, peer and slow peer
# suites), then the Debug+ASan+UBSan build running the unit suite. The peer suite
# (label "peers") runs the peer libraries at test time, mostly Python time, so only the
# Release build runs it and the slow peers ("peers-slow": whole real models, minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
phase() { echo "=== [$((SECONDS / 60))m$((SECONDS % 60))s] $*"; }
phase "install dependencies"
bash scripts/install-deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/lowbit-ccache}
# Paths relative to the checkout in ccache's keys, so a clone elsewhere (CI's) hits the
# objects this one built; without NOHASHDIR the -g builds also key on the directory.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}

for preset in release asan; do
  phase "build: $preset"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  # A fresh build has no test timings, so ctest -j2 would start the tests in number order
  # and the minutes-long real-model peers (numbered last) would finish alone at the end.
  # Seed it with a recorded run's seconds (scripts/ctest-cost-data.py), longest first;
  # ctest updates the file itself after every run. (It saves about a minute: the peer
  # phase is ~47 min of work on 2 cores, 24.6 min before and 23.5 min after.)
  cost=build/$preset/Testing/Temporary/CTestCostData.txt
  if [ "$preset" = release ] && [ ! -s "$cost" ]; then
    mkdir -p "$(dirname "$cost")"
    cp tests/ctest_cost_release.txt "$cost"
  fi
  phase "unit tests: $preset"
  ctest --preset "$preset" -L unit -j2
  if [ "$preset" = release ]; then
    # Both peer suites in one run ("peers" and "peers-slow", the real models), so the short
    # peer checks fill the gaps beside the long ones instead of the slow suite ending on a
    # lone minutes-long test.
    phase "peer tests and slow peer tests (real models): $preset"
    ctest --preset "$preset" -L '^peers' -j2
  fi
done
phase "all tests passed"
