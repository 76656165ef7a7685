"""llama.cpp's CPU matmul as its users run it: one ggml graph holding ggml_mul_mat(W, X)
for a quantized weight W [N, K] and fp32 activations X [M, K] (ggml converts X to the
type's vec_dot_type inside the op, as in a model), computed by ggml_graph_compute_with_ctx
from the libggml that llama-cpp-python builds. Used by bench/cpu_matmul.sh beside lowbit.
Usage: peer_ggml_mul_mat.py TYPE N K M THREADS REPS -> one JSON line: median seconds."""
import ctypes
import glob
import importlib.util
import json
import os
import statistics
import sys
import time

import numpy as np

TYPE_IDS = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 8, "Q4_K": 12, "Q6_K": 14}

libdir = os.path.join(list(importlib.util.find_spec("llama_cpp").submodule_search_locations)[0], "lib")
base = ctypes.CDLL(sorted(glob.glob(os.path.join(libdir, "libggml-base.so*")))[0], mode=ctypes.RTLD_GLOBAL)
cpu = ctypes.CDLL(sorted(glob.glob(os.path.join(libdir, "libggml-cpu.so*")))[0], mode=ctypes.RTLD_GLOBAL)


class InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


P = ctypes.c_void_p
base.ggml_init.restype = P
base.ggml_init.argtypes = [InitParams]
base.ggml_free.argtypes = [P]
base.ggml_new_tensor_2d.restype = P
base.ggml_new_tensor_2d.argtypes = [P, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
base.ggml_mul_mat.restype = P
base.ggml_mul_mat.argtypes = [P, P, P]
base.ggml_new_graph.restype = P
base.ggml_new_graph.argtypes = [P]
base.ggml_build_forward_expand.argtypes = [P, P]
base.ggml_get_data.restype = P
base.ggml_get_data.argtypes = [P]
base.ggml_nbytes.restype = ctypes.c_size_t
base.ggml_nbytes.argtypes = [P]
base.ggml_quantize_chunk.restype = ctypes.c_size_t
base.ggml_quantize_chunk.argtypes = [ctypes.c_int, P, P, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, P]
cpu.ggml_graph_compute_with_ctx.restype = ctypes.c_int
cpu.ggml_graph_compute_with_ctx.argtypes = [P, P, ctypes.c_int]


def main():
    tname, n, k, m, threads, reps = sys.argv[1], *map(int, sys.argv[2:7])
    t = TYPE_IDS[tname]
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n, k), dtype=np.float32) * np.float32(0.02))
    x = rng.standard_normal((m, k), dtype=np.float32)
    mem = w.nbytes + 3 * x.nbytes + 4 * m * n + (64 << 20)
    ctx = base.ggml_init(InitParams(mem, None, False))
    tw = base.ggml_new_tensor_2d(ctx, t, k, n)
    tx = base.ggml_new_tensor_2d(ctx, 0, k, m)
    if tname == "F32":
        ctypes.memmove(base.ggml_get_data(tw), w.ctypes.data, w.nbytes)
    elif tname == "F16":
        h = w.astype(np.float16)
        ctypes.memmove(base.ggml_get_data(tw), h.ctypes.data, h.nbytes)
    else:
        base.ggml_quantize_chunk(t, w.ctypes.data, base.ggml_get_data(tw), 0, n, k, None)
    ctypes.memmove(base.ggml_get_data(tx), x.ctypes.data, x.nbytes)
    out = base.ggml_mul_mat(ctx, tw, tx)
    gf = base.ggml_new_graph(ctx)
    base.ggml_build_forward_expand(gf, out)
    times = []
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        if cpu.ggml_graph_compute_with_ctx(ctx, gf, threads) != 0:
            sys.exit("ggml_graph_compute_with_ctx failed")
        times.append(time.perf_counter() - t0)
    print(json.dumps({"peer": "llama.cpp", "type": tname, "n": n, "k": k, "m": m, "threads": threads,
                      "seconds": statistics.median(times[1:]), "weight_bytes": base.ggml_nbytes(tw)}))
    base.ggml_free(ctx)


main()
