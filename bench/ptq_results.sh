#!/usr/bin/env bash
# The PTQ results table (docs/results.md): for each model, the packaged GGUF decoded to an
# fp32 GGUF is the baseline; lowbit's RTN / MSE-RTN / GPTQ / AWQ / HQQ at W4 g128, W3 g128,
# W2 g64, SqueezeLLM k-means (per-channel codebooks of 16 / 8 / 4 entries) and W8A8 with
# and without SmoothQuant are
# measured in-process against the baseline's logits (lowbit perplexity --kld-base), and
# lowbit's GGUF outputs (RTN/GPTQ/AWQ poured into llama.cpp's Q4_K_M and Q4_0 mixes) beside
# llama.cpp's Q4_0, Q4_K_M, IQ4_XS, Q3_K_M, Q2_K with and without an imatrix from the same
# calibration text are all measured by llama.cpp itself (bench/ptq_kld_llamacpp.py) on
# the same text in this run. all-MiniLM-L6-v2 (minilm) takes the same methods and is measured
# by the cosine of its sentence embeddings against the fp32 model over the evaluation
# split's lines. MODELS (smollm2 gemma3 minilm), CALIB_CHUNKS (16), EVAL_CHUNKS (8),
# THREADS (2), SCHEMES and METHODS (the integer-scheme loops), W8A8 (0 skips those rows), AWQ_SEQS (sequences AWQ's
# block search runs on in those loops, 8) can be set; REUSE=1 keeps the outputs of steps already run (their .time
# files too). Writes build/results/<model>/* and the tables of docs/results.md (its notes after
# the marker line stay; RESULTS_MD= prints the markdown instead).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh lowbit_cli >/dev/null
MODELS=${MODELS:-smollm2 gemma3 minilm}
CALIB=${CALIB_CHUNKS:-16}
EVAL=${EVAL_CHUNKS:-8}
THREADS=${THREADS:-2}
LB=build/release/lowbit
PY=.venv/bin/python
R=build/results
mkdir -p "$R"
$LB corpus austen --split evaluation --out "$R/austen_eval.txt" >/dev/null
$LB corpus austen --split calibration --out "$R/austen_calib.txt" >/dev/null
PATHS=$($PY tests/peers/gguf_model_paths.py)
timed() {  # timed NAME cmd...: wall seconds and peak RSS into $O/NAME.time
  local name=$1; shift
  if [ "${REUSE:-0}" = 1 ] && [ -s "$O/$name.time" ]; then return 0; fi
  /usr/bin/time -f "%e %M" -o "$O/$name.time.tmp" "$@"
  mv "$O/$name.time.tmp" "$O/$name.time"
}

for m in $MODELS; do
  [ "$m" = minilm ] && continue
  O=$R/$m
  mkdir -p "$O"
  PKG=$(echo "$PATHS" | $PY -c "import json,sys;print(json.load(sys.stdin)['$m'])")
  BASE=$O/base-f32.gguf
  echo "== $m: baseline, calibration" >&2
  [ "${REUSE:-0}" = 1 ] && [ -s "$O/base.json" ] || {
  $LB quantize "$PKG" "$BASE" --scheme gguf:F32 -q
  $LB perplexity "$BASE" --f32 --text "$R/austen_eval.txt" --ctx 512 --chunks "$EVAL" --threads "$THREADS" \
    --save-logits "$O/base.kld" --json "$O/base.json" >/dev/null
  $LB calibrate "$BASE" --text "$R/austen_calib.txt" --ctx 512 --chunks "$CALIB" --threads "$THREADS" \
    --out "$O/calib.safetensors" --imatrix "$O/imatrix.gguf" -q >/dev/null
  }

  echo "== $m: llama.cpp types" >&2
  GGUFS=()
  for t in Q4_0 Q4_K_M IQ4_XS Q3_K_M Q2_K; do
    # llama_model_quantize itself (llama-cpp-python's build), with llama-quantize's
    # defaults; the imatrix is lowbit's calibration of the same text in llama.cpp's format.
    timed "llama-$t" $PY tests/peers/gguf_llamacpp_quantize.py "$BASE" "$O/llama-$t.gguf" "$t" --threads "$THREADS"
    timed "llama-$t-imatrix" $PY tests/peers/gguf_llamacpp_quantize.py "$BASE" "$O/llama-$t-imatrix.gguf" "$t" \
      --imatrix "$O/imatrix.gguf" --threads "$THREADS"
    GGUFS+=("llama.cpp $t=$O/llama-$t.gguf" "llama.cpp $t + imatrix=$O/llama-$t-imatrix.gguf")
  done

  echo "== $m: lowbit GGUF outputs" >&2
  for mt in rtn:Q4_K_M gptq:Q4_K_M awq:Q4_K_M gptq:Q4_0 awq:Q4_0; do
    method=${mt%%:*} t=${mt#*:}
    timed "lowbit-$method-$t" $LB quantize "$BASE" "$O/lowbit-$method-$t.gguf" --method "$method" \
      --scheme "gguf:$t" --calib "$R/austen_calib.txt" --calib-chunks "$CALIB" --threads "$THREADS" \
      --kld-base "$O/base.kld" --report "$O/lowbit-$method-$t.json" -q
    GGUFS+=("lowbit $method $t=$O/lowbit-$method-$t.gguf")
  done

  echo "== $m: llama.cpp measures every GGUF" >&2
  $PY bench/ptq_kld_llamacpp.py --base "$BASE" --text "$R/austen_eval.txt" --ctx 512 --chunks "$EVAL" \
    --threads "$THREADS" "${GGUFS[@]}" > "$O/llamacpp_kld.json"

  echo "== $m: lowbit integer schemes" >&2
  for scheme in ${SCHEMES:-int4:g128:asym int3:g128:asym int2:g64:asym kmeans4:channel kmeans3:channel kmeans2:channel}; do
    methods=${METHODS:-rtn rtn-mse gptq gptq-act-order awq hqq}
    case $scheme in kmeans*) methods=kmeans ;; esac
    for method in $methods; do
      tag="${method}-${scheme//:/-}"
      flags=(--method "$method")
      [ "$method" = gptq-act-order ] && flags=(--method gptq --act-order)  # AutoGPTQ's desc_act
      timed "$tag" $LB quantize "$BASE" "${flags[@]}" --scheme "$scheme" --calib "$R/austen_calib.txt" \
        --calib-chunks "$CALIB" --threads "$THREADS" --kld-base "$O/base.kld" --report "$O/$tag.json" \
        --awq-search-seqs "${AWQ_SEQS:-8}" -q
    done
  done

  # W8A8: int8 per-channel weights, int8 per-token activations, with and without SmoothQuant.
  [ "${W8A8:-1}" = 1 ] && for method in rtn smoothquant; do
    timed "w8a8-$method" $LB quantize "$BASE" --method "$method" --scheme int8:channel:sym --act8 token \
      --calib "$R/austen_calib.txt" --calib-chunks "$CALIB" --threads "$THREADS" --kld-base "$O/base.kld" \
      --report "$O/w8a8-$method.json" -q
  done
done

# The encoder: calibration on the calibration split's first 512 lines, cosines over the
# evaluation split's first 256 lines (sentences of a novel, 10-20 words each).
if [[ " $MODELS " == *" minilm "* ]]; then
  O=$R/minilm
  mkdir -p "$O"
  MINILM=$(dirname "$($PY tests/peers/minilm_path.py)")
  echo "== minilm" >&2
  for scheme in ${SCHEMES:-int4:g128:asym int3:g128:asym int2:g64:asym kmeans4:channel kmeans3:channel kmeans2:channel}; do
    methods="rtn rtn-mse gptq awq hqq"
    case $scheme in kmeans*) methods=kmeans ;; esac
    for method in $methods; do
      tag="${method}-${scheme//:/-}"
      timed "$tag" $LB quantize "$MINILM" --method "$method" --scheme "$scheme" --calib "$R/austen_calib.txt" \
        --eval-text "$R/austen_eval.txt" --threads "$THREADS" --report "$O/$tag.json" -q
    done
  done
fi

RESULTS_MD=${RESULTS_MD-docs/results.md} $PY bench/ptq_results_table.py "$R" "$CALIB" "$EVAL" "$THREADS" $MODELS
