#!/usr/bin/env bash
# Quantize/dequantize throughput of lowbit and, in the same run, of llama.cpp (ggml built
# from source by the PyPI package llama-cpp-python, cached as a wheel under
# ~/.cache/lowbit-wheels), on the same 4096 x 14336 fp32 matrix. Prints a markdown
# table for docs/benchmarks.md. Not part of CI (the llama.cpp build takes ~30 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh bench_quantize
WHEELS=$HOME/.cache/lowbit-wheels
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  mkdir -p "$WHEELS"
  ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1 || \
    CMAKE_BUILD_PARALLEL_LEVEL=2 .venv/bin/pip wheel --no-deps -w "$WHEELS" llama-cpp-python
  .venv/bin/pip install -q --no-deps "$WHEELS"/llama_cpp_python-*.whl
fi
OUT=build/bench
mkdir -p "$OUT"
build/release/bench/bench_quantize --benchmark_min_time=${MIN_TIME:-1} --benchmark_format=json \
  --benchmark_out="$OUT/lowbit_quant.json" --benchmark_out_format=json >/dev/null
.venv/bin/python bench/peer_ggml_types.py Q4_0 Q8_0 Q4_K F16 > "$OUT/llamacpp_quant.jsonl"
.venv/bin/python bench/quant_table.py "$OUT/lowbit_quant.json" "$OUT/llamacpp_quant.jsonl"
