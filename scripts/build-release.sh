#!/usr/bin/env bash
# Installs what is needed and builds the given targets of the Release preset (all when
# none are named). Shared by the main job and the benchmark scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/lowbit-ccache}
# Paths relative to the checkout in ccache's keys, so a clone elsewhere (CI's) hits the
# objects this one built; without NOHASHDIR the -g builds also key on the directory.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
cmake --preset release >/dev/null
if (($#)); then
  cmake --build --preset release --target "$@"
else
  cmake --build --preset release
fi
