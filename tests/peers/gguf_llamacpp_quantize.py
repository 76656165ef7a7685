"""Has llama.cpp quantize a GGUF: llama_model_quantize (the function behind llama-quantize)
from the llama-cpp-python build, with its default parameters except those named.
  IN OUT FTYPE [--imatrix FILE] [--pure] [--threads N]
FTYPE is llama_ftype's name without the prefix (Q4_K_M, IQ4_XS, ...). --imatrix takes a
GGUF imatrix file (llama.cpp's format, general.type = imatrix) and turns it into the
per-tensor importance vectors the way tools/quantize/quantize.cpp does for that format
(sums of squares over counts, per expert matrix), then passes them to llama.cpp."""
import argparse
import ctypes
import sys

import numpy as np
import gguf
import llama_cpp

FTYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12,
          "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25,
          "IQ4_XS": 30, "F16": 1, "BF16": 32, "F32": 0}


def load_imatrix(path):
    r = gguf.GGUFReader(path)
    sums = {t.name[: -len(".in_sum2")]: t for t in r.tensors if t.name.endswith(".in_sum2")}
    counts = {t.name[: -len(".counts")]: t for t in r.tensors if t.name.endswith(".counts")}
    out = {}
    for name, s in sums.items():
        c = np.asarray(counts[name].data, dtype=np.float32).reshape(-1)
        v = np.asarray(s.data, dtype=np.float32).reshape(len(c), -1)
        # tools/quantize/quantize.cpp: value = sum / count per matrix (counts rounded to
        # integers first); a matrix never seen (count 0) gets ones.
        e = np.ones_like(v)
        for j in range(len(c)):
            cnt = np.float32(round(float(c[j])))
            if cnt > 0:
                e[j] = v[j] / cnt
        out[name] = np.ascontiguousarray(e.reshape(-1), dtype=np.float32)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("ftype")
    ap.add_argument("--imatrix")
    ap.add_argument("--pure", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    noop = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(noop, ctypes.c_void_p())
    llama_cpp.llama_backend_init()

    p = llama_cpp.llama_model_quantize_default_params()
    p.nthread = a.threads
    p.ftype = FTYPES[a.ftype]
    p.allow_requantize = True
    p.pure = a.pure
    keep = []
    if a.imatrix:
        imat = load_imatrix(a.imatrix)
        arr = (llama_cpp.llama_model_imatrix_data * (len(imat) + 1))()
        for i, (name, v) in enumerate(imat.items()):
            nb = name.encode()
            keep.append((nb, v))
            arr[i].name = nb
            arr[i].data = v.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = v.size
        arr[len(imat)].name = None  # terminator
        keep.append(arr)
        p.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
    rc = llama_cpp.llama_model_quantize(a.inp.encode(), a.out.encode(), ctypes.byref(p))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed with {rc}")


if __name__ == "__main__":
    main()
