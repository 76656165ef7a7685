#!/usr/bin/env bash
# Quantize/dequantize throughput of every ggml type lowbit encodes, with llama.cpp (ggml
# from llama-cpp-python) and gguf-py measured in the same run on the same shape; prints
# the markdown tables of docs/benchmarks.md. Takes a few minutes (the k-quant encoders).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh bench_ggml_types
OUT=build/bench
mkdir -p "$OUT"
build/release/bench/bench_ggml_types --benchmark_min_time=${MIN_TIME:-0.5} --benchmark_format=json \
  --benchmark_out="$OUT/lowbit_ggml.json" --benchmark_out_format=json >/dev/null
.venv/bin/python bench/peer_ggml_types.py > "$OUT/peer_ggml.jsonl"
echo "commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo
.venv/bin/python bench/ggml_types_table.py "$OUT/lowbit_ggml.json" "$OUT/peer_ggml.jsonl"
