"""The PyPI gguf package's numpy implementation of the ggml block formats (gguf.quants,
llama.cpp's own Python code), the second, lighter peer for lowbit's ggml types:
  quant TYPE SRC NROWS NPR OUT     gguf.quants.quantize (types it implements)
  dequant TYPE SRC NROWS NPR OUT   gguf.quants.dequantize of NROWS rows of NPR weights
Raw little-endian files in and out; TYPE is ggml's name (q4_K, iq4_nl, bf16, ...)."""
import sys

import numpy as np
import gguf
from gguf import quants


def qtype(name):
    return gguf.GGMLQuantizationType[name.upper()]


def main():
    cmd, tname, src, nrows, npr, out = sys.argv[1:7]
    nrows, npr = int(nrows), int(npr)
    t = qtype(tname)
    if cmd == "quant":
        x = np.fromfile(src, dtype=np.float32).reshape(nrows, npr)
        q = quants.quantize(x, t)
        np.ascontiguousarray(q).view(np.uint8).tofile(out)
    elif cmd == "dequant":
        blck, size = quants.GGML_QUANT_SIZES[t]
        q = np.fromfile(src, dtype=np.uint8).reshape(nrows, npr // blck * size)
        y = quants.dequantize(q, t).astype(np.float32)
        y.tofile(out)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
