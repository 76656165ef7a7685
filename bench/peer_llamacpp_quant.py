"""llama.cpp's quantize / dequantize throughput on the same 4096 x 14336 fp32 matrix as
bench_quantize, for the peer column of docs/benchmarks.md. Calls ggml from the libggml
that the PyPI package llama-cpp-python builds from source: ggml_quantize_chunk (the path
llama-quantize uses) and the type traits' to_float (ggml's dequantize_row_*), on 1 and 2
threads (rows split in halves; ctypes drops the GIL). Prints one JSON object per line."""
import ctypes
import glob
import json
import os
import sys
import threading
import time

import numpy as np
import llama_cpp

ROWS, COLS = 4096, 14336
TYPES = {"F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q8_0": 8, "Q4_K": 12, "Q6_K": 14}

libdir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
cands = sorted(glob.glob(os.path.join(libdir, "libggml-base.so*"))) or sorted(glob.glob(os.path.join(libdir, "libggml.so*")))
if not cands:
    sys.exit(f"no libggml in {libdir}")
ggml = ctypes.CDLL(cands[0])


class TypeTraits(ctypes.Structure):
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p), ("from_float_ref", ctypes.c_void_p)]


ggml.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
ggml.ggml_get_type_traits.argtypes = [ctypes.c_int]
ggml.ggml_quantize_chunk.restype = ctypes.c_size_t
ggml.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                     ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
ggml.ggml_row_size.restype = ctypes.c_size_t
ggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
ToFloat = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)

rng = np.random.default_rng(1)
x = (rng.standard_normal((ROWS, COLS), dtype=np.float32) * np.float32(0.02))
y = np.empty_like(x)


def run_split(threads, fn):
    per = ROWS // threads
    ts = [threading.Thread(target=fn, args=(i * per, per)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def best(threads, fn, reps):
    return min(run_split(threads, fn) for _ in range(reps))


for name in sys.argv[1:] or TYPES:
    t = TYPES[name]
    row_bytes = ggml.ggml_row_size(t, COLS)
    q = np.empty(ROWS * row_bytes, dtype=np.uint8)
    to_float = ToFloat(ggml.ggml_get_type_traits(t).contents.to_float)

    def quant(r0, n):
        ggml.ggml_quantize_chunk(t, x.ctypes.data, q.ctypes.data, r0 * COLS, n, COLS, None)

    def dequant(r0, n):
        to_float(q.ctypes.data + r0 * row_bytes, y.ctypes.data + r0 * COLS * 4, n * COLS)

    quant(0, ROWS)  # warm-up, and the data dequant reads
    for threads in (1, 2):
        tq = best(threads, quant, 3)
        td = best(threads, dequant, 5)
        gb = ROWS * COLS * 4 / 1e9
        print(json.dumps({"peer": "llama.cpp", "type": name, "threads": threads,
                          "quantize_GBps": round(gb / tq, 3), "dequantize_GBps": round(gb / td, 3),
                          "bpw": round(8 * row_bytes / COLS, 4)}), flush=True)
