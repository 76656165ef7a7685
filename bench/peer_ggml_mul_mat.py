"""llama.cpp's CPU matmul as its users run it: one ggml graph holding ggml_mul_mat(W, X)
for a quantized weight W [N, K] and fp32 activations X [M, K] (ggml converts X to the
type's vec_dot_type inside the op, as in a model), from the libggml that llama-cpp-python
builds. Used by bench/cpu_matmul.sh beside lowbit. Two modes:
- plain (default): W and X live in a plain ggml context, computed by
  ggml_graph_compute_with_ctx; mul_mat takes ggml's generic path on the row-major blocks
  (llamafile's tinyBLAS where it accepts the shape, else the type's vec_dot).
- repack: W is allocated in the CPU backend's extra "CPU_REPACK" buffer type, which at
  ggml_backend_tensor_set converts it into eight-row interleaved panels (block_q4_0x8,
  block_q4_Kx8), and the graph is computed by a CPU backend (ggml_backend_graph_compute),
  so the mul_mat dispatches to the repack gemm/gemv kernels (ggml_gemm_q4_0_8x8_q8_0,
  ggml_gemv_q4_K_8x8_q8_K ...). This is the path llama.cpp takes by default when it loads a
  model on an AVX2 machine for Q4_0 and Q4_K weights whose row count N is a multiple of 8;
  other types have no repack layout on AVX2 and are refused here.
Usage: peer_ggml_mul_mat.py TYPE N K M THREADS REPS [repack] -> one JSON line: median seconds
(first run of REPS + 1 discarded as warm-up)."""
import ctypes
import glob
import importlib.util
import json
import os
import statistics
import sys
import time

import numpy as np

TYPE_IDS = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q5_0": 6, "Q5_1": 7, "Q8_0": 8, "Q2_K": 10, "Q3_K": 11, "Q4_K": 12,
            "Q5_K": 13, "Q6_K": 14, "IQ4_NL": 20}

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
    if len(sys.argv) == 8:
        if sys.argv[7] != "repack":
            sys.exit(f"unknown mode {sys.argv[7]!r}: the 7th argument, when given, is 'repack'")
        return main_repack()
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



# The CPU backend API, for the repack mode only.
base.ggml_tensor_overhead.restype = ctypes.c_size_t
base.ggml_graph_overhead.restype = ctypes.c_size_t
base.ggml_backend_reg_dev_get.restype = P
base.ggml_backend_reg_dev_get.argtypes = [P, ctypes.c_size_t]
base.ggml_backend_reg_get_proc_address.restype = P
base.ggml_backend_reg_get_proc_address.argtypes = [P, ctypes.c_char_p]
base.ggml_backend_buft_name.restype = ctypes.c_char_p
base.ggml_backend_buft_name.argtypes = [P]
base.ggml_backend_buft_get_alloc_size.restype = ctypes.c_size_t
base.ggml_backend_buft_get_alloc_size.argtypes = [P, P]
base.ggml_backend_buft_alloc_buffer.restype = P
base.ggml_backend_buft_alloc_buffer.argtypes = [P, ctypes.c_size_t]
base.ggml_backend_buffer_set_usage.argtypes = [P, ctypes.c_int]
base.ggml_backend_buffer_get_base.restype = P
base.ggml_backend_buffer_get_base.argtypes = [P]
base.ggml_backend_buffer_free.argtypes = [P]
base.ggml_backend_tensor_alloc.restype = ctypes.c_int
base.ggml_backend_tensor_alloc.argtypes = [P, P, P]
base.ggml_backend_tensor_set.argtypes = [P, P, ctypes.c_size_t, ctypes.c_size_t]
base.ggml_backend_alloc_ctx_tensors_from_buft.restype = P
base.ggml_backend_alloc_ctx_tensors_from_buft.argtypes = [P, P]
base.ggml_backend_graph_compute.restype = ctypes.c_int
base.ggml_backend_graph_compute.argtypes = [P, P]
base.ggml_backend_free.argtypes = [P]
base.ggml_backend_cpu_buffer_type.restype = P
cpu.ggml_backend_cpu_reg.restype = P
cpu.ggml_backend_cpu_init.restype = P
cpu.ggml_backend_cpu_set_n_threads.argtypes = [P, ctypes.c_int]
GET_EXTRA_BUFTS = ctypes.CFUNCTYPE(ctypes.POINTER(P), P)
LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, P)
base.ggml_log_set.argtypes = [LOG_CALLBACK, P]
_log_level = [0]


@LOG_CALLBACK
def log_above_debug(level, text, _user):
    """ggml's log minus its DEBUG lines (the repack announces each tensor it converts)."""
    if level != 5:  # GGML_LOG_LEVEL_CONT continues the previous line at its level
        _log_level[0] = level
    if _log_level[0] != 1:  # GGML_LOG_LEVEL_DEBUG
        sys.stderr.write(text.decode(errors="replace"))


def repack_buft():
    """The CPU device's extra buffer type whose name contains REPACK, as llama.cpp finds it."""
    reg = cpu.ggml_backend_cpu_reg()
    dev = base.ggml_backend_reg_dev_get(reg, 0)
    fn = base.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_dev_get_extra_bufts")
    if not fn:
        sys.exit("the CPU backend has no ggml_backend_dev_get_extra_bufts")
    bufts = GET_EXTRA_BUFTS(fn)(dev)
    i = 0
    while bufts[i]:
        name = base.ggml_backend_buft_name(bufts[i]).decode()
        if "REPACK" in name:
            return bufts[i], name
        i += 1
    sys.exit("the CPU backend has no REPACK extra buffer type")


def main_repack():
    tname, n, k, m, threads, reps = sys.argv[1], *map(int, sys.argv[2:7])
    if tname not in ("Q4_0", "Q4_K") or n % 8:
        sys.exit(f"repack: llama.cpp repacks only Q4_0 and Q4_K with N % 8 == 0 on AVX2, not {tname} N={n}")
    t = TYPE_IDS[tname]
    base.ggml_log_set(log_above_debug, None)
    buft, buft_name = repack_buft()
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n, k), dtype=np.float32) * np.float32(0.02))
    x = rng.standard_normal((m, k), dtype=np.float32)
    ctx = base.ggml_init(InitParams(4 * base.ggml_tensor_overhead() + base.ggml_graph_overhead(), None, True))
    tw = base.ggml_new_tensor_2d(ctx, t, k, n)
    tx = base.ggml_new_tensor_2d(ctx, 0, k, m)
    out = base.ggml_mul_mat(ctx, tw, tx)
    gf = base.ggml_new_graph(ctx)
    base.ggml_build_forward_expand(gf, out)
    nbytes = base.ggml_nbytes(tw)
    q = np.empty(nbytes, dtype=np.uint8)
    if base.ggml_quantize_chunk(t, w.ctypes.data, q.ctypes.data, 0, n, k, None) != nbytes:
        sys.exit("ggml_quantize_chunk wrote an unexpected size")
    wbuf = base.ggml_backend_buft_alloc_buffer(buft, base.ggml_backend_buft_get_alloc_size(buft, tw))
    base.ggml_backend_buffer_set_usage(wbuf, 1)  # GGML_BACKEND_BUFFER_USAGE_WEIGHTS, as for a model's weights
    # tensor_alloc runs the buffer's init_tensor, which picks the repack layout (tensor->extra);
    # tensor_set then converts the row-major blocks into the interleaved panels.
    if base.ggml_backend_tensor_alloc(wbuf, tw, base.ggml_backend_buffer_get_base(wbuf)) != 0:
        sys.exit("ggml_backend_tensor_alloc failed")
    base.ggml_backend_tensor_set(tw, q.ctypes.data, 0, nbytes)
    stored = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(base.ggml_get_data(tw)))
    if np.array_equal(stored, q):
        sys.exit("the weight was stored unchanged: it was not repacked")
    rest = base.ggml_backend_alloc_ctx_tensors_from_buft(ctx, base.ggml_backend_cpu_buffer_type())  # X and out
    base.ggml_backend_tensor_set(tx, x.ctypes.data, 0, x.nbytes)
    backend = cpu.ggml_backend_cpu_init()
    cpu.ggml_backend_cpu_set_n_threads(backend, threads)
    times = []
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        if base.ggml_backend_graph_compute(backend, gf) != 0:
            sys.exit("ggml_backend_graph_compute failed")
        times.append(time.perf_counter() - t0)
    print(json.dumps({"peer": "llama.cpp-repack", "type": tname, "n": n, "k": k, "m": m, "threads": threads,
                      "seconds": statistics.median(times[1:]), "weight_bytes": nbytes, "buft": buft_name}))
    base.ggml_backend_free(backend)
    base.ggml_backend_buffer_free(rest)
    base.ggml_backend_buffer_free(wbuf)
    base.ggml_free(ctx)


main()
