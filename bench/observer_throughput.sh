#!/usr/bin/env bash
# Observer ingest throughput of lowbit (bench_observer) and, in the same run, of torch.ao
# (Debian's python3-torch, one thread) on a 4096 x 4096 fp32 tensor. Prints a markdown
# table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh bench_observer
OUT=build/bench
mkdir -p "$OUT"
build/release/bench/bench_observer --benchmark_min_time=${MIN_TIME:-1} --benchmark_format=json \
  --benchmark_out="$OUT/lowbit_observer.json" --benchmark_out_format=json >/dev/null
/usr/bin/python3 bench/peer_torch_observer.py "${REPS:-5}" > "$OUT/torch_observer.jsonl"
.venv/bin/python - "$OUT/lowbit_observer.json" "$OUT/torch_observer.jsonl" <<'PY'
import json, sys
ours = {b["name"].split("/")[1]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
torch = {j["name"]: j["ms"] for j in map(json.loads, open(sys.argv[2]))}
nbytes = 4096 * 4096 * 4
print("| observer step (4096x4096 fp32, 1 thread) | lowbit ms | lowbit GB/s | torch.ao ms | torch.ao GB/s | speed-up |")
print("|---|---|---|---|---|---|")
for name, b in ours.items():
    ms = b["real_time"] if b["time_unit"] == "ms" else b["real_time"] / 1e6
    t = torch.get(name)
    row = f"| {name} | {ms:.1f} | {nbytes / ms / 1e6:.2f} |"
    row += f" {t:.1f} | {nbytes / t / 1e6:.2f} | {t / ms:.2f}x |" if t else " — | — | — |"
    if name.endswith("search"):
        row = f"| {name} (range from the histogram) | {ms:.2f} | — |" + (f" {t:.2f} | — | {t / ms:.2f}x |" if t else " — | — | — |")
    print(row)
PY
