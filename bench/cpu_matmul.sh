#!/usr/bin/env bash
# CPU matmul beside llama.cpp in the same run: lowbit's runtime Linear (bench/cpu_matmul)
# and ggml's mul_mat graph from llama-cpp-python's libggml (bench/peer_ggml_mul_mat.py),
# same type, shape, batch M and threads, plus the machine's streaming-read bandwidth.
# For Q4_0 and Q4_K the peer also runs with its weight in the CPU_REPACK buffer type
# (interleaved eight-row panels, gemm/gemv kernels): what llama.cpp runs for them by default.
# Prints the markdown table of docs/benchmarks.md with the two ceilings measured in the same
# run (streaming read, fp32 FMA peak). TYPES, SHAPES, MS, THREADS can be set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh cpu_matmul >/dev/null
TYPES=${TYPES:-"Q4_0 Q4_K Q8_0 F16"}
SHAPES=${SHAPES:-"4096x4096 4096x14336 14336x4096"}
MS=${MS:-"1 8 64 512"}
THREADS=${THREADS:-"1 2"}
LB=build/release/bench/cpu_matmul
PY=.venv/bin/python
out=build/bench/cpu_matmul.jsonl
mkdir -p build/bench
: > "$out"
for t in $THREADS; do $LB stream 1024 "$t" 5 >> "$out"; $LB fma "$t" 3 >> "$out"; done
for type in $TYPES; do
  for shape in $SHAPES; do
    n=${shape%x*}; k=${shape#*x}
    for t in $THREADS; do
      for m in $MS; do
        reps=$(( m >= 512 ? 2 : (m >= 64 ? 3 : 7) ))
        $LB "$type" "$n" "$k" "$m" "$t" "$reps" >> "$out"
        $PY bench/peer_ggml_mul_mat.py "$type" "$n" "$k" "$m" "$t" "$reps" >> "$out"
        case $type in
          Q4_0|Q4_K) $PY bench/peer_ggml_mul_mat.py "$type" "$n" "$k" "$m" "$t" "$reps" repack >> "$out" ;;
        esac
      done
    done
  done
done
echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
$PY - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
stream = {r["threads"]: r["GBps"] for r in rows if r["peer"] == "stream"}
print("streaming read: " + ", ".join(f"{v:.1f} GB/s on {t} thread{'s' if t > 1 else ''}" for t, v in sorted(stream.items())))
fma = {r["threads"]: r["GFLOPS"] for r in rows if r["peer"] == "fma"}
print("fp32 FMA peak: " + ", ".join(f"{v:.1f} GFLOPS on {t} thread{'s' if t > 1 else ''}" for t, v in sorted(fma.items())))
print()
print("| type | W [out, in] | threads | M | lowbit GFLOPS | llama.cpp GFLOPS | lowbit / llama.cpp "
      "| llama.cpp repacked GFLOPS | lowbit / repacked | lowbit GB/s (weights) | % of stream |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
key = lambda r: (r["type"], r["n"], r["k"], r["threads"], r["m"])
peers = {(r["peer"], key(r)): r for r in rows if r["peer"] in ("llama.cpp", "llama.cpp-repack")}
for r in rows:
    if r["peer"] != "lowbit":
        continue
    flop = 2.0 * r["n"] * r["k"] * r["m"]
    g = flop / r["seconds"] / 1e9
    gp = flop / peers["llama.cpp", key(r)]["seconds"] / 1e9
    rp = peers.get(("llama.cpp-repack", key(r)))
    gr = flop / rp["seconds"] / 1e9 if rp else None
    repacked = f"{gr:.1f} | {g / gr:.2f}" if rp else "- | -"
    bw = r["weight_bytes"] / r["seconds"] / 1e9
    print(f"| {r['type']} | {r['n']}x{r['k']} | {r['threads']} | {r['m']} | {g:.1f} | {gp:.1f} | {g / gp:.2f} | "
          f"{repacked} | {bw:.1f} | {100 * bw / stream[r['threads']]:.0f}% |")
PY
