#!/usr/bin/env bash
# Builds and runs lowbit's CUDA matmul checks and timings on a machine with a Hopper GPU
# (the device tool runs it there): prints the table and writes it as CSV to $OUT or /tmp.
# Usage: bash bench/cuda/gemm_device.sh [MODE...]   (needs nvcc and cuBLAS; no CMake, no other deps)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp}
build=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv || true
nvcc --version | tail -1
flags=(-std=c++20 -O3 -gencode=arch=compute_90a,code=sm_90a -Iinclude -Isrc)
for k in gemm_w4a16 gemm_w4a16_cluster gemm_w4a16_wgmma gemv_w4a16 gemv_w4a16_bulk gemm_w8a8 gemm_w8a8_wgmma gemm_w8a8_tma; do
  nvcc "${flags[@]}" -Xptxas -v -c src/kernels/cuda/${k}__cuda.cu -o "$build/$k.o" 2>> "$out/ptxas.txt" &
done
nvcc "${flags[@]}" -c src/kernels/w4a16_repack.cpp -o "$build/repack.o"
wait
nvcc "${flags[@]}" bench/cuda/gemm_device.cu "$build"/gemm_w4a16.o "$build"/gemm_w4a16_cluster.o "$build"/gemm_w4a16_wgmma.o "$build"/gemv_w4a16.o "$build"/gemv_w4a16_bulk.o "$build"/gemm_w8a8.o "$build"/gemm_w8a8_wgmma.o "$build"/gemm_w8a8_tma.o \
  "$build/repack.o" -lcublas -o "$build/gemm_device"
# Modes: w4a16, w4a16-big (M >= 32 only, every tile-kernel plan checked and timed),
# w4a16-mid (M = 8..64, every cluster-kernel plan checked and timed), w4a16-table (every
# row count on the default plans, then at M >= 32 the wgmma kernel's plans, each checked:
# blocks per SM, K splits, ring stages), w8a8,
# probe (launch cost and streaming-read floor), w8a8-probe (the TMA kernel's epilogues,
# probes that leave part of its work out, and its tile walk's band depths, beside cuBLAS at
# M >= 1024), w8a8-clocks (8192 x 8192 M = 4096 for two seconds each, cuBLAS then lowbit,
# with wall-clock marks for nvidia-smi's clock log), w8a8-sustained (W8A8 beside cuBLAS
# at M >= 512, each held about 1.5 s at the board's power limit), ncu; none: w4a16 and w8a8.
if [ $# -eq 0 ]; then set -- ""; fi
# ncu / ncu-bulk / ncu-mid / ncu-mM / ncu-w8a8 / ncu-w8a8-cublas: hardware counters of one
# W4A16 call at M = 1 on the default plan / the bulk-copy kernel / M = 64 / M = M on the
# default plan, or of one W8A8 call at M = 4096 on 8192 x 8192, lowbit's or cuBLAS's
# (ncu-w8a8-bandB: lowbit's persistent n256 walking bands of B row tiles)
# (Firecracker machines; clocks left alone); NCU_EXTRA adds ncu arguments (e.g. --metrics).
# NCU_SASS=1 profiles the full set instead and writes $OUT/<mode>-sass.csv.gz: stall
# samples per SASS instruction (ncu's source page), to see where a loop waits.
for mode in "$@"; do
  if [ "$mode" = ncu ] || [ "$mode" = ncu-bulk ] || [ "$mode" = ncu-mid ] || [ "${mode#ncu-m[0-9]}" != "$mode" ] ||
    [ "${mode#ncu-w8a8}" != "$mode" ]; then
    kernels=regex:gem._w4a16
    [ "${mode#ncu-w8a8}" != "$mode" ] && kernels=regex:gemm_w8a8
    [ "$mode" = ncu-w8a8-cublas ] && kernels='regex:sm90|xmma|cutlass|gemm'
    # (LaunchStats shows the peer's grid, block, cluster and shared memory.)
    if [ "${NCU_SASS:-0}" = 1 ]; then
      ncu --clock-control none --set full -k $kernels --launch-skip 3 -c 1 -f -o "$build/$mode" \
        "$build/gemm_device" "" "${mode/ncu/one}" > /dev/null
      ncu --import "$build/$mode.ncu-rep" --print-summary none --page details > "$out/$mode-details.txt"
      grep -E "Duration|Throughput|Busy|Eligible|Issued|Registers|Stall" "$out/$mode-details.txt" | head -40
      ncu --import "$build/$mode.ncu-rep" --page source --csv --print-source sass | gzip > "$out/$mode-sass.csv.gz"
      continue
    fi
    ncu --clock-control none --section SpeedOfLight --section WarpStateStats --section Occupancy \
      --section MemoryWorkloadAnalysis --section SchedulerStats --section LaunchStats \
      --section ComputeWorkloadAnalysis ${NCU_EXTRA:-} -k $kernels --launch-skip 3 -c 1 \
      "$build/gemm_device" "" "${mode/ncu/one}"
  else
    "$build/gemm_device" "$out/gemm_device${mode:+-$mode}.csv" "$mode"
  fi
done
