#!/usr/bin/env bash
# Runtime speed beside llama.cpp: prompt processing (tokens/s) and the wall time of a
# perplexity run on SmolLM2-135M (the package's Q4_1 GGUF) over the Austen evaluation
# split, ctx 512, same chunks and threads for both, in the same run; and the peak RSS of
# `lowbit calibrate` on the calibration split. Prints the markdown table of
# docs/benchmarks.md. CHUNKS (default 16) and THREADS (default 2) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh lowbit_cli
CHUNKS=${CHUNKS:-16}
THREADS=${THREADS:-2}
OUT=build/bench
mkdir -p "$OUT"
MODEL=$(.venv/bin/python -c "import json,subprocess;print(json.loads(subprocess.check_output(['.venv/bin/python','tests/peers/gguf_model_paths.py']))['smollm2'])")
LB=build/release/lowbit
$LB corpus austen --split evaluation --out "$OUT/austen_eval.txt" >/dev/null
$LB corpus austen --split calibration --out "$OUT/austen_calib.txt" >/dev/null

/usr/bin/time -f "%e %M" -o "$OUT/lowbit_ppl.time" \
  $LB perplexity "$MODEL" --text "$OUT/austen_eval.txt" --ctx 512 --chunks "$CHUNKS" --threads "$THREADS" \
  --json "$OUT/lowbit_ppl.json" >/dev/null
/usr/bin/time -f "%e %M" -o "$OUT/llama_ppl.time" \
  .venv/bin/python tests/peers/model_llamacpp.py perplexity --model "$MODEL" --text "$OUT/austen_eval.txt" \
  --ctx 512 --chunks "$CHUNKS" --threads "$THREADS" --flash-attn auto > "$OUT/llama_ppl.json"
/usr/bin/time -f "%e %M" -o "$OUT/lowbit_calib.time" \
  $LB calibrate "$MODEL" --text "$OUT/austen_calib.txt" --ctx 512 --chunks "$CHUNKS" --threads "$THREADS" \
  --out "$OUT/calib.safetensors" --imatrix "$OUT/calib.imatrix.gguf" -q >/dev/null

echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads"
echo
.venv/bin/python - "$OUT" "$CHUNKS" <<'PY'
import json, sys
out, chunks = sys.argv[1], int(sys.argv[2])
lb = json.load(open(f"{out}/lowbit_ppl.json")); ll = json.load(open(f"{out}/llama_ppl.json"))
t = lambda n: open(f"{out}/{n}.time").read().split()
lbt, llt, ct = t("lowbit_ppl"), t("llama_ppl"), t("lowbit_calib")
n_eval = lb["chunks"] * lb["ctx"]
# prompt tokens/s: tokens through the model per second of model evaluation (llama.cpp:
# llama_decode time only; lowbit: its evaluation loop, log-softmax included).
print("| SmolLM2-135M Q4_1, ctx 512, %d chunks | PPL | eval s | prompt tokens/s | wall s | peak RSS MiB |" % chunks)
print("|---|---:|---:|---:|---:|---:|")
print("| lowbit perplexity | %.4f | %.1f | %.1f | %s | %.0f |" % (lb["ppl"], lb["seconds"], lb["tokens_per_second"], lbt[0], int(lbt[1]) / 1024))
print("| llama.cpp (llama-cpp-python 0.3.36) | %.4f | %.1f | %.1f | %s | %.0f |" % (ll["ppl"], ll["seconds"], n_eval / ll["decode_seconds"], llt[0], int(llt[1]) / 1024))
print()
print("| lowbit calibrate, %d chunks x 512 tokens | wall s | peak RSS MiB |" % chunks)
print("|---|---:|---:|")
print("| mean abs, mean sq, min/max, X^T X for 210 Linear inputs + imatrix | %s | %.0f |" % (ct[0], int(ct[1]) / 1024))
PY
