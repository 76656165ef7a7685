"""Peer for tests/quant/test_quantize_tensor.cpp: numpy (float32 arithmetic, round half
to even) derives group-wise asymmetric int4 (g64, ragged tail) and per-channel symmetric
int8 codes of DIR/x.f32 (ROWS x COLS) independently of lowbit's block walker.
Usage: quant_groupwise.py DIR ROWS COLS"""
import sys
import numpy as np

d, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.fromfile(f"{d}/x.f32", dtype=np.float32).reshape(rows, cols)
f32 = np.float32

out = np.zeros((rows, cols), dtype=np.int32)
g, qmin, qmax = 64, -8, 7
for j0 in range(0, cols, g):
    blk = x[:, j0:j0 + g]
    mn = np.minimum(blk.min(axis=1), f32(0))
    mx = np.maximum(blk.max(axis=1), f32(0))
    inv = f32(qmax - qmin) / (mx - mn)
    z = np.clip(f32(qmin) - np.round(mn * inv), qmin, qmax)
    out[:, j0:j0 + g] = np.clip(np.round(blk * inv[:, None]) + z[:, None], qmin, qmax)
out.tofile(f"{d}/int4_g64_asym.i32")

amax = np.abs(x).max(axis=1)
inv = f32(127) / amax
np.clip(np.round(x * inv[:, None]), -127, 127).astype(np.int32).tofile(f"{d}/int8_channel_sym.i32")
