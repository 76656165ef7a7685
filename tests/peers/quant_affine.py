"""Peer for tests/quant/test_affine.cpp: numpy computes, at test time, the affine codes
of the seed documents' int8 recipes and of the generic Q(r) = clamp(round(r*inv)+Z) in
float32 (np.round is round-half-to-even), so lowbit's reference must match bit for bit.
Usage: quant_affine.py DIR   (reads DIR/x.f32, DIR/cases.txt; writes DIR/<case>.i32)"""
import sys
import numpy as np

d = sys.argv[1]
x = np.fromfile(f"{d}/x.f32", dtype=np.float32)
f32 = np.float32

# Seed recipe 1 (absmax): k = 127 / max|X|, q = round(k * x).
k = f32(127) / np.max(np.abs(x))
np.round(k * x).astype(np.int32).tofile(f"{d}/absmax.i32")
np.array([k], dtype=np.float32).tofile(f"{d}/absmax_k.f32")

# Seed recipe 2 (zero-point): k = 255 / (max - min), zp = -round(k * min) - 128.
mn, mx = np.min(x), np.max(x)
k = f32(255) / (mx - mn)
zp = -np.round(k * mn) - f32(128)
np.clip(np.round(k * x) + zp, -128, 127).astype(np.int32).tofile(f"{d}/zeropoint.i32")
np.array([k, zp], dtype=np.float32).tofile(f"{d}/zeropoint_kzp.f32")

# Generic cases: one per line "name inv_scale zero_point qmin qmax mode".
for line in open(f"{d}/cases.txt"):
    name, inv, z, qmin, qmax, mode = line.split()
    v = x * f32(float.fromhex(inv))
    if mode == "rne":
        r = np.round(v)
    else:  # nearest, ties away from zero
        r = np.sign(v) * np.floor(np.abs(v) + f32(0.5))
        # floor(|v| + 0.5) is wrong when |v| + 0.5 rounds up in float32; use the
        # exact definition through float64 where v is exact.
        v64 = v.astype(np.float64)
        r = (np.sign(v64) * np.floor(np.abs(v64) + 0.5)).astype(np.float32)
    q = np.clip(r + f32(int(z)), f32(int(qmin)), f32(int(qmax)))
    q.astype(np.int32).tofile(f"{d}/{name}.i32")
