"""Peer for tests/core/test_float_peers.cpp: ml_dtypes decodes all 256 codes of
float8_e4m3fn and float8_e5m2, and encodes a dense set of fp32 values (every top-12-bit
mantissa of each binade around the fp8 ranges with several low-bit tails, so ties,
near-ties, subnormals and overflow are all hit; plus ±0, ±inf, NaNs, fp32 subnormals and
random bit patterns). Writes raw little-endian arrays into DIR and prints the count.

E4M3FN: lowbit saturates finite overflow and ±inf to ±448 (OCP OFP8 "satfinite"), while
ml_dtypes' cast maps them to NaN, so the expected E4M3FN codes are ml_dtypes' cast of
np.clip(x, -448, 448): for in-range x the clip is the identity, NaN passes through."""
import sys
import numpy as np
import ml_dtypes

d = sys.argv[1]
codes = np.arange(256, dtype=np.uint8)
codes.view(ml_dtypes.float8_e4m3fn).astype(np.float32).tofile(f"{d}/e4m3fn_decode.f32")
codes.view(ml_dtypes.float8_e5m2).astype(np.float32).tofile(f"{d}/e5m2_decode.f32")

rng = np.random.default_rng(8)
top = np.arange(4096, dtype=np.uint32) << 11
tails = [0, 1, 0x400, 0x3FF, 0x7FF]
parts = []
for field in range(127 - 22, 127 + 20):  # 2^-22 (below half of E5M2's 2^-16) .. 2^19
    for tail in tails + [None]:
        low = rng.integers(0, 1 << 11, size=top.size, dtype=np.uint32) if tail is None else np.uint32(tail)
        parts.append((np.uint32(field) << np.uint32(23)) | top | low)
specials = np.array([0, 0x7F800000, 0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0x7FA00000, 1, 0x007FFFFF,
                     0x7F7FFFFF, 0x00800000], dtype=np.uint32)
parts.append(specials)
parts.append(rng.integers(0, 1 << 32, size=1_000_000, dtype=np.uint64).astype(np.uint32))
bits = np.concatenate(parts)
bits = np.concatenate([bits, bits | np.uint32(0x80000000)])
x = bits.view(np.float32)
x.tofile(f"{d}/encode_in.f32")
with np.errstate(all="ignore"):
    np.clip(x, -448, 448).astype(ml_dtypes.float8_e4m3fn).view(np.uint8).tofile(f"{d}/e4m3fn_encode.u8")
    x.astype(ml_dtypes.float8_e5m2).view(np.uint8).tofile(f"{d}/e5m2_encode.u8")
print(x.size)
