"""llama.cpp's CPU block dot products (type_traits_cpu[t].vec_dot) and activation
quantizers (type_traits_cpu[vec_dot_type].from_float), called through ctypes in the
libggml-cpu that llama-cpp-python builds from source: the peer for lowbit's ggml-order
dots. Commands (raw little-endian files in; TYPE is ggml's name, e.g. q4_K):
  dot TYPE N ROWS W X     ROWS dots of N values: weight row r of W (TYPE blocks) with
                          activation row r of X (vec_dot_type blocks); prints one line
                          per row, the fp32 result's bits as 8 hex digits
  quantize TYPE N ROWS SRC OUT
                          from_float of TYPE's vec_dot_type over ROWS rows of N fp32
                          values in SRC, written to OUT
"""
import ctypes
import glob
import importlib.util
import os
import sys

import numpy as np


def load_libs():
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None:
        sys.exit("llama_cpp (llama-cpp-python) is not installed in this Python")
    libdir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    libs = []
    for stem in ("libggml-base.so", "libggml-cpu.so"):
        cands = sorted(glob.glob(os.path.join(libdir, stem + "*")))
        if not cands:
            sys.exit(f"no {stem} in {libdir}")
        # Global, so libggml-cpu resolves its libggml-base symbols against this copy.
        libs.append(ctypes.CDLL(cands[0], mode=ctypes.RTLD_GLOBAL))
    return libs


base, cpu = load_libs()
base.ggml_type_name.restype = ctypes.c_char_p
base.ggml_type_name.argtypes = [ctypes.c_int]
base.ggml_blck_size.restype = ctypes.c_int64
base.ggml_blck_size.argtypes = [ctypes.c_int]
base.ggml_row_size.restype = ctypes.c_size_t
base.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]

FROM_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
VEC_DOT = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_void_p,
                           ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


class TypeTraitsCpu(ctypes.Structure):
    # ggml-cpu.h: struct ggml_type_traits_cpu (ctypes pads the enum before the int64).
    _fields_ = [("from_float", FROM_FLOAT), ("vec_dot", VEC_DOT), ("vec_dot_type", ctypes.c_int),
                ("nrows", ctypes.c_int64)]


cpu.ggml_get_type_traits_cpu.restype = ctypes.POINTER(TypeTraitsCpu)
cpu.ggml_get_type_traits_cpu.argtypes = [ctypes.c_int]
# Fills ggml's fp16 -> fp32 table, which the x86 kernels read for block scales.
cpu.ggml_cpu_init.restype = None
cpu.ggml_cpu_init.argtypes = []
cpu.ggml_cpu_init()

# GGML_TYPE_COUNT of the ggml this wheel vendors (ggml.h); ids past it index out of bounds.
GGML_TYPE_COUNT = 43
TYPE_IDS = {}
for i in range(GGML_TYPE_COUNT):
    name = base.ggml_type_name(i) if base.ggml_blck_size(i) > 0 else None
    if name:
        TYPE_IDS[name.decode()] = i


def traits(tid):
    tr = cpu.ggml_get_type_traits_cpu(tid).contents
    if not tr.vec_dot:
        sys.exit(f"ggml type {tid} has no CPU vec_dot")
    return tr


def main():
    cmd = sys.argv[1]
    tid = TYPE_IDS[sys.argv[2]]
    n, rows = int(sys.argv[3]), int(sys.argv[4])
    tr = traits(tid)
    if cmd == "dot":
        w = np.fromfile(sys.argv[5], dtype=np.uint8)
        x = np.fromfile(sys.argv[6], dtype=np.uint8)
        wb, xb = base.ggml_row_size(tid, n), base.ggml_row_size(tr.vec_dot_type, n)
        assert w.size == wb * rows and x.size == xb * rows, (w.size, x.size, wb, xb, rows)
        out = np.zeros(rows, dtype=np.float32)
        s = ctypes.c_float()
        for r in range(rows):
            # nrc = 1: one product per call, the way ggml_compute_forward_mul_mat calls it
            # wherever nrows is 1 (x86); the strides are unused then.
            tr.vec_dot(n, ctypes.byref(s), 0, w.ctypes.data + r * wb, 0, x.ctypes.data + r * xb, 0, 1)
            out[r] = s.value
        sys.stdout.write("".join(f"{b:08x}\n" for b in out.view(np.uint32)))
    elif cmd == "quantize":
        src = np.fromfile(sys.argv[5], dtype=np.float32)
        assert src.size == n * rows, (src.size, n, rows)
        vt = tr.vec_dot_type
        xb = base.ggml_row_size(vt, n)
        dst = np.zeros(xb * rows, dtype=np.uint8)
        from_float = cpu.ggml_get_type_traits_cpu(vt).contents.from_float
        for r in range(rows):
            from_float(src.ctypes.data + r * n * 4, dst.ctypes.data + r * xb, n)
        dst.tofile(sys.argv[6])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
