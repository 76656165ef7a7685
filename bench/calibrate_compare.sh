#!/usr/bin/env bash
# "Which clip is best" on real activations: token ids of Austen sentences from MiniLM's
# own tokenizer, then bench/calibrate_compare prints the SQNR table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh calibrate_compare
OUT=build/bench
mkdir -p "$OUT"
.venv/bin/python bench/minilm_token_ids.py "$OUT" "${N_CALIB:-64}" "${N_EVAL:-64}"
build/release/bench/calibrate_compare "$(.venv/bin/python tests/peers/minilm_path.py)" "$OUT/calib.ids" "$OUT/eval.ids"
