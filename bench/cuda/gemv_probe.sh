#!/usr/bin/env bash
# Builds and runs bench/cuda/gemv_probe.cu on a Hopper GPU (the device tool runs it
# there) and keeps its output in $OUT/gemv_probe.txt (or /tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp}
bin=$(mktemp -d)/gemv_probe
nvcc -std=c++20 -O3 -gencode=arch=compute_90a,code=sm_90a -Iinclude -Isrc bench/cuda/gemv_probe.cu -o "$bin"
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader || true
"$bin" | tee "$out/gemv_probe.txt"
