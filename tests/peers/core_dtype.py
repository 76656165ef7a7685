"""Peer for tests/core/test_dtype_peer.cpp: numpy.iinfo / numpy.finfo / ml_dtypes.finfo
report each dtype's limits. Prints one line per lowbit dtype name:
name itemsize min max smallest_normal smallest_subnormal (floats as repr, "-" if none)."""
import numpy as np
import ml_dtypes

floats = {"f64": np.float64, "f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16,
          "fp8e4m3": ml_dtypes.float8_e4m3fn, "fp8e5m2": ml_dtypes.float8_e5m2,
          "fp8e8m0": ml_dtypes.float8_e8m0fnu, "fp8e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
          "fp8e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "c64": np.complex64}
ints = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
        "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64}
for name, t in floats.items():
    fi = np.finfo(t) if t in (np.float64, np.float32, np.float16, np.complex64) else ml_dtypes.finfo(t)
    print(name, np.dtype(t).itemsize, repr(float(fi.min)), repr(float(fi.max)),
          repr(float(fi.smallest_normal)), repr(float(fi.smallest_subnormal)))
for name, t in ints.items():
    ii = np.iinfo(t)
    print(name, np.dtype(t).itemsize, int(ii.min), int(ii.max), "-", "-")
print("bool", np.dtype(np.bool_).itemsize, int(np.False_), int(np.True_), "-", "-")
