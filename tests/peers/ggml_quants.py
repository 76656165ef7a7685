"""llama.cpp's own ggml row functions, called through ctypes in the libggml-base that the
PyPI package llama-cpp-python builds from source: the peer for lowbit's ggml block
formats. Commands (raw little-endian files in and out):
  traits                                   JSON: every type id -> [name, blck_size, type_size]
  quant TYPE ref|imatrix SRC NROWS NPR OUT [IMATRIX]
      ref:     quantize_row_<type>_ref over all rows (the format's reference quantizer)
      imatrix: quantize_<type>(src, dst, nrows, n_per_row, quant_weights), the path
               llama_model_quantize takes; IMATRIX holds n_per_row fp32 weights
  dequant TYPE SRC N OUT                   dequantize_row_<type> of N weights to fp32
"""
import ctypes
import glob
import json
import os
import sys
import importlib.util

import numpy as np


def load_ggml():
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None:
        sys.exit("llama_cpp (llama-cpp-python) is not installed in this Python")
    libdir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    cands = sorted(glob.glob(os.path.join(libdir, "libggml-base.so*")))
    if not cands:
        sys.exit(f"no libggml-base in {libdir}")
    return ctypes.CDLL(cands[0])


ggml = load_ggml()
ggml.ggml_type_name.restype = ctypes.c_char_p
ggml.ggml_type_name.argtypes = [ctypes.c_int]
ggml.ggml_blck_size.restype = ctypes.c_int64
ggml.ggml_blck_size.argtypes = [ctypes.c_int]
ggml.ggml_type_size.restype = ctypes.c_size_t
ggml.ggml_type_size.argtypes = [ctypes.c_int]
ggml.ggml_row_size.restype = ctypes.c_size_t
ggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]

# GGML_TYPE_COUNT of the ggml this wheel vendors (ggml.h); ids past it index out of bounds.
GGML_TYPE_COUNT = 43
TYPE_IDS = {}
for i in range(GGML_TYPE_COUNT):
    name = ggml.ggml_type_name(i) if ggml.ggml_blck_size(i) > 0 else None
    if name:
        TYPE_IDS[name.decode()] = i


def fn(name, argtypes, restype=None):
    f = getattr(ggml, name)
    f.argtypes = argtypes
    f.restype = restype
    return f


def main():
    cmd = sys.argv[1]
    if cmd == "traits":
        out = {}
        for i in range(GGML_TYPE_COUNT):
            b = ggml.ggml_blck_size(i)
            n = ggml.ggml_type_name(i)
            if n and b > 0 and n.decode() != "NONE":
                out[i] = [n.decode(), b, ggml.ggml_type_size(i)]
        print(json.dumps(out))
    elif cmd == "quant":
        tname, mode, src, nrows, npr, out = sys.argv[2:8]
        nrows, npr = int(nrows), int(npr)
        x = np.fromfile(src, dtype=np.float32)
        assert x.size == nrows * npr, (x.size, nrows, npr)
        tid = TYPE_IDS[tname]
        dst = np.zeros(ggml.ggml_row_size(tid, npr) * nrows, dtype=np.uint8)
        if mode == "ref":
            f = fn(f"quantize_row_{tname}_ref", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64])
            f(x.ctypes.data, dst.ctypes.data, nrows * npr)
        else:
            imat = np.fromfile(sys.argv[8], dtype=np.float32) if len(sys.argv) > 8 else None
            assert imat is None or imat.size == npr
            f = fn(f"quantize_{tname}", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                         ctypes.c_void_p], ctypes.c_size_t)
            f(x.ctypes.data, dst.ctypes.data, nrows, npr, None if imat is None else imat.ctypes.data)
        dst.tofile(out)
    elif cmd == "dequant":
        tname, src, n, out = sys.argv[2:6]
        n = int(n)
        q = np.fromfile(src, dtype=np.uint8)
        y = np.zeros(n, dtype=np.float32)
        f = fn(f"dequantize_row_{tname}", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64])
        f(q.ctypes.data, y.ctypes.data, n)
        y.tofile(out)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
