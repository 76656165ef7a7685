"""Peer for tests/core/test_float_peers.cpp: numpy's float16 and ml_dtypes' bfloat16
round fp32 values (random bit patterns, random values across fp16's range, and exact
ties of both formats). Writes DIR/in.f32, DIR/fp16.u16, DIR/bf16.u16 and prints the count."""
import sys
import numpy as np
import ml_dtypes

d = sys.argv[1]
rng = np.random.default_rng(16)
n = 1_000_000
anything = rng.integers(0, 1 << 32, size=n, dtype=np.uint64).astype(np.uint32)
fields = rng.integers(127 - 27, 127 + 18, size=n, dtype=np.uint32)
mant = rng.integers(0, 1 << 23, size=n, dtype=np.uint32)
sign = rng.integers(0, 2, size=n, dtype=np.uint32) << np.uint32(31)
in_range = sign | (fields << np.uint32(23)) | mant
fp16_ties = (in_range & np.uint32(0xFFFFE000)) | np.uint32(0x1000)  # exactly half an fp16 ulp
bf16_ties = (anything & np.uint32(0xFFFF0000)) | np.uint32(0x8000)  # exactly half a bf16 ulp
x = np.concatenate([anything, in_range, fp16_ties, bf16_ties]).view(np.float32)
x.tofile(f"{d}/in.f32")
with np.errstate(all="ignore"):
    x.astype(np.float16).view(np.uint16).tofile(f"{d}/fp16.u16")
    x.astype(ml_dtypes.bfloat16).view(np.uint16).tofile(f"{d}/bf16.u16")
print(x.size)
