"""Peer throughput for bench/ggml_throughput.sh, on the same 4096 x 14336 N(0, 0.02) fp32
shape as bench_ggml_types (k-quant encoders on the first 512 rows, as there):
  llama.cpp: ggml_quantize_chunk (what llama-quantize calls; its reference quantizers) and
             the type traits' to_float, from the libggml-base that llama-cpp-python builds,
             on 1 and 2 threads (rows split in halves; ctypes releases the GIL);
  gguf-py:   gguf.quants.quantize / dequantize (numpy), one thread, where implemented.
Prints one JSON object per line: peer, type, threads, quantize_GBps, dequantize_GBps
(and bpw for llama.cpp's rows). bench/quant_throughput.sh uses its llama.cpp rows too."""
import ctypes
import glob
import importlib.util
import json
import os
import sys
import threading
import time

import numpy as np
import gguf
from gguf import quants

ROWS, COLS = 4096, 14336
TYPES = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
         "IQ4_NL", "IQ4_XS"]

libdir = os.path.join(list(importlib.util.find_spec("llama_cpp").submodule_search_locations)[0], "lib")
ggml = ctypes.CDLL(sorted(glob.glob(os.path.join(libdir, "libggml-base.so*")))[0])


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

x = np.random.default_rng(1).standard_normal((ROWS, COLS), dtype=np.float32) * np.float32(0.02)
y = np.empty_like(x)


def timed(threads, fn, rows):
    per = rows // threads
    ts = [threading.Thread(target=fn, args=(i * per, per)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def best(reps, f):
    return min(f() for _ in range(reps))


for name in sys.argv[1:] or TYPES:
    qt = gguf.GGMLQuantizationType[name]
    t = int(qt)
    blck = ggml.ggml_get_type_traits(t).contents.blck_size
    qrows = 512 if blck == 256 else ROWS
    row_bytes = ggml.ggml_row_size(t, COLS)
    q = np.empty((ROWS, row_bytes), dtype=np.uint8)
    to_float = ToFloat(ggml.ggml_get_type_traits(t).contents.to_float)

    def quant(r0, n):
        ggml.ggml_quantize_chunk(t, x.ctypes.data, q.ctypes.data, r0 * COLS, n, COLS, None)

    def dequant(r0, n):
        to_float(q.ctypes.data + r0 * row_bytes, y.ctypes.data + r0 * COLS * 4, n * COLS)

    quant(0, ROWS)  # the bytes dequantize reads
    for threads in (1, 2):
        tq = best(2, lambda: timed(threads, quant, qrows))
        td = best(3, lambda: timed(threads, dequant, ROWS))
        print(json.dumps({"peer": "llama.cpp", "type": name, "threads": threads,
                          "quantize_GBps": qrows * COLS * 4 / 1e9 / tq,
                          "dequantize_GBps": ROWS * COLS * 4 / 1e9 / td,
                          "bpw": 8 * row_bytes / COLS}), flush=True)
    rec = {"peer": "gguf-py", "type": name, "threads": 1, "quantize_GBps": None}
    try:
        tq = best(1, lambda: (lambda t0: (quants.quantize(x[:qrows], qt), time.perf_counter() - t0)[1])(time.perf_counter()))
        rec["quantize_GBps"] = qrows * COLS * 4 / 1e9 / tq
    except NotImplementedError:
        pass
    td = best(1, lambda: (lambda t0: (quants.dequantize(q[:1024], qt), time.perf_counter() - t0)[1])(time.perf_counter()))
    rec["dequantize_GBps"] = 1024 * COLS * 4 / 1e9 / td
    print(json.dumps(rec), flush=True)
