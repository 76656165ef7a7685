#!/usr/bin/env bash
# Speed of lowbit's runtime beside llama.cpp on SmolLM2-135M in Q4_0, Q4_K_M and Q8_0:
# each file made once by llama.cpp's own quantizer from the package's fp32 decode, then on
# the same file and THREADS threads: `lowbit perplexity` and llama.cpp's perplexity
# (llama-cpp-python) over Austen evaluation text, ctx 512, CHUNKS chunks (prompt
# tokens/s), and greedy generation of GEN tokens after the same PROMPT-token prompt
# through each one's KV cache (`lowbit generate`, model_llamacpp.py generate). This VM's
# speed drifts by 20 % within minutes, so each pair runs REPS times, lowbit and llama.cpp
# alternating, and the table takes each side's median.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh lowbit_cli >/dev/null
CHUNKS=${CHUNKS:-4}
THREADS=${THREADS:-2}
GEN=${GEN:-128}
REPS=${REPS:-3}
PROMPT=${PROMPT:-128}
OUT=build/bench/runtime_types
mkdir -p "$OUT"
PY=.venv/bin/python
LB=build/release/lowbit
PKG=$($PY -c "import json,subprocess;print(json.loads(subprocess.check_output(['$PY','tests/peers/gguf_model_paths.py']))['smollm2'])")
$LB corpus austen --split evaluation --out "$OUT/eval.txt" >/dev/null
$PY tests/peers/model_llamacpp.py tokenize --model "$PKG" --austen persuasion --seqs 1 --ctx "$PROMPT" \
  | $PY -c "import json,sys;print(json.dumps(json.load(sys.stdin)[0]))" > "$OUT/prompt.json"
[ -s "$OUT/base-f32.gguf" ] || $LB quantize "$PKG" "$OUT/base-f32.gguf" --scheme gguf:F32 -q
for t in Q4_0 Q4_K_M Q8_0; do
  [ -s "$OUT/$t.gguf" ] || $PY tests/peers/gguf_llamacpp_quantize.py "$OUT/base-f32.gguf" "$OUT/$t.gguf" "$t" \
    --threads "$THREADS" >/dev/null
  for r in $(seq "$REPS"); do
    $LB perplexity "$OUT/$t.gguf" --text "$OUT/eval.txt" --ctx 512 --chunks "$CHUNKS" --threads "$THREADS" \
      --json "$OUT/lowbit-$t-$r.json" >/dev/null
    $PY tests/peers/model_llamacpp.py perplexity --model "$OUT/$t.gguf" --text "$OUT/eval.txt" --ctx 512 \
      --chunks "$CHUNKS" --threads "$THREADS" --flash-attn auto > "$OUT/llama-$t-$r.json"
    $LB generate "$OUT/$t.gguf" --prompt-ids "$OUT/prompt.json" --tokens "$GEN" --ignore-eos --threads "$THREADS" \
      --json "$OUT/lowbit-gen-$t-$r.json" >/dev/null
    $PY tests/peers/model_llamacpp.py generate --model "$OUT/$t.gguf" --ids "$OUT/prompt.json" --tokens "$GEN" \
      --threads "$THREADS" --flash-attn auto > "$OUT/llama-gen-$t-$r.json"
  done
done
echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads, generation: $GEN tokens after $PROMPT, median of $REPS alternating runs"
echo
$PY - "$OUT" "$REPS" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
def runs(name):
    return [json.load(open(f"{out}/{name}-{r}.json")) for r in range(1, reps + 1)]
print("| SmolLM2-135M, ctx 512 | lowbit PPL | llama.cpp PPL | lowbit prompt tokens/s | llama.cpp prompt tokens/s | lowbit / llama.cpp |")
print("|---|---:|---:|---:|---:|---:|")
for t in ["Q4_0", "Q4_K_M", "Q8_0"]:
    lbs, lls = runs(f"lowbit-{t}"), runs(f"llama-{t}")
    lb, ll = lbs[0], lls[0]
    # Forward passes alone on both sides (the peer times llama_decode, not its scoring).
    lbt = statistics.median(x["forward_tokens_per_second"] for x in lbs)
    llt = statistics.median(lb["chunks"] * lb["ctx"] / x["decode_seconds"] for x in lls)
    print(f"| {t} | {lb['ppl']:.4f} | {ll['ppl']:.4f} | {lbt:.1f} | {llt:.1f} | {lbt / llt:.2f} |")
print()
print("| SmolLM2-135M, greedy | lowbit generation tokens/s | llama.cpp generation tokens/s | lowbit / llama.cpp | first tokens identical |")
print("|---|---:|---:|---:|---:|")
for t in ["Q4_0", "Q4_K_M", "Q8_0"]:
    lbs, lls = runs(f"lowbit-gen-{t}"), runs(f"llama-gen-{t}")
    lb, ll = lbs[0], lls[0]
    lbt = statistics.median(x["generation_tokens_per_second"] for x in lbs)
    llt = statistics.median(x["decoded"] / x["generation_seconds"] for x in lls)
    # llama.cpp's one-token steps round differently from its batch path (which lowbit
    # follows bit for bit), so the two greedy texts part at the first near-tie.
    same = next((i for i, (a, b) in enumerate(zip(lb["generated"], ll["generated"])) if a != b), len(ll["generated"]))
    print(f"| {t} | {lbt:.1f} | {llt:.1f} | {lbt / llt:.2f} | {same}/{len(ll['generated'])} |")
PY
