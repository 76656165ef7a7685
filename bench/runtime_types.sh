#!/usr/bin/env bash
# Prompt-processing speed of lowbit's runtime beside llama.cpp on SmolLM2-135M in Q4_0,
# Q4_K_M and Q8_0: each file made once by llama.cpp's own quantizer from the package's
# fp32 decode, then `lowbit perplexity` and llama.cpp's perplexity (llama-cpp-python) on
# the same file, Austen evaluation text, ctx 512, CHUNKS chunks and THREADS threads.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh lowbit_cli >/dev/null
CHUNKS=${CHUNKS:-4}
THREADS=${THREADS:-2}
OUT=build/bench/runtime_types
mkdir -p "$OUT"
PY=.venv/bin/python
LB=build/release/lowbit
PKG=$($PY -c "import json,subprocess;print(json.loads(subprocess.check_output(['$PY','tests/peers/gguf_model_paths.py']))['smollm2'])")
$LB corpus austen --split evaluation --out "$OUT/eval.txt" >/dev/null
[ -s "$OUT/base-f32.gguf" ] || $LB quantize "$PKG" "$OUT/base-f32.gguf" --scheme gguf:F32 -q
for t in Q4_0 Q4_K_M Q8_0; do
  [ -s "$OUT/$t.gguf" ] || $PY tests/peers/gguf_llamacpp_quantize.py "$OUT/base-f32.gguf" "$OUT/$t.gguf" "$t" \
    --threads "$THREADS" >/dev/null
  $LB perplexity "$OUT/$t.gguf" --text "$OUT/eval.txt" --ctx 512 --chunks "$CHUNKS" --threads "$THREADS" \
    --json "$OUT/lowbit-$t.json" >/dev/null
  $PY tests/peers/model_llamacpp.py perplexity --model "$OUT/$t.gguf" --text "$OUT/eval.txt" --ctx 512 \
    --chunks "$CHUNKS" --threads "$THREADS" --flash-attn auto > "$OUT/llama-$t.json"
done
echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads"
echo
$PY - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print("| SmolLM2-135M, ctx 512 | lowbit PPL | llama.cpp PPL | lowbit prompt tokens/s | llama.cpp prompt tokens/s | lowbit / llama.cpp |")
print("|---|---:|---:|---:|---:|---:|")
for t in ["Q4_0", "Q4_K_M", "Q8_0"]:
    lb = json.load(open(f"{out}/lowbit-{t}.json")); ll = json.load(open(f"{out}/llama-{t}.json"))
    llt = lb["chunks"] * lb["ctx"] / ll["decode_seconds"]
    print(f"| {t} | {lb['ppl']:.4f} | {ll['ppl']:.4f} | {lb['tokens_per_second']:.1f} | {llt:.1f} | {lb['tokens_per_second'] / llt:.2f} |")
PY
