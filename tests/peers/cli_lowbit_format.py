# Independent reader of lowbit's quantized safetensors layout (format "1"), written only
# from the format spec (docs: formats_lowbit.md) and the LSB-first bit-packing rule:
# loads each file with safetensors + numpy, rebuilds every tensor in fp32 and saves it.
# Usage: cli_lowbit_format.py QUANTIZED OUT [QUANTIZED OUT]...; prints a JSON summary.
import json
import math
import sys

import ml_dtypes
import numpy as np

# safetensors' numpy backend looks these up on the numpy module; numpy itself has no
# bf16/fp8, ml_dtypes provides them.
np.bfloat16 = ml_dtypes.bfloat16
np.float8_e4m3fn = ml_dtypes.float8_e4m3fn
np.float8_e5m2 = ml_dtypes.float8_e5m2

from safetensors import safe_open  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

F32 = np.float32


class Spec:
    """The parts of a SPEC string that dequantization depends on."""

    def __init__(self, text):
        self.text = text
        tokens = text.split(":")
        t = tokens[0]
        self.kind = None
        self.bits = None
        self.signed = True
        self.grid = None
        self.float_format = None
        if t.startswith("kmeans"):
            self.kind, self.bits = "kmeans", int(t[len("kmeans"):])
        elif t == "nf4":
            self.kind, self.bits = "grid", 4
        elif t.startswith("grid[") and t.endswith("]"):
            self.kind = "grid"
            self.grid = [float(v) for v in t[5:-1].split(",")]
            self.bits = max(1, math.ceil(math.log2(len(self.grid))))
        elif t in ("fp16", "bf16", "fp8e4m3", "fp8e5m2"):
            self.kind, self.float_format = "float", t
        elif t.startswith("uint"):
            self.kind, self.bits, self.signed = "affine", int(t[4:]), False
        elif t.startswith("int"):
            self.kind, self.bits, self.signed = "affine", int(t[3:]), True
        else:
            raise ValueError(f"unknown SPEC type {t!r} in {text!r}")
        self.granularity, self.axis, self.group = "tensor", 0, 0
        self.symmetric = True
        self.super_block, self.scale_bits = 0, 6
        for tok in tokens[1:]:
            if tok == "tensor":
                self.granularity = "tensor"
            elif tok == "channel":
                self.granularity, self.axis = "channel", 0
            elif tok.startswith("channel@"):
                self.granularity, self.axis = "channel", int(tok[len("channel@"):])
            elif tok.startswith("sbits"):
                self.scale_bits = int(tok[5:])
            elif tok.startswith("sb"):
                self.super_block = int(tok[2:])
            elif tok.startswith("g") and tok[1:].isdigit():
                self.granularity, self.group = "group", int(tok[1:])
            elif tok == "sym":
                self.symmetric = True
            elif tok == "asym":
                self.symmetric = False
            elif tok in ("restricted", "full", "rne", "rna", "sr", "kpp") or tok.startswith("seed="):
                pass  # affect how codes are chosen, not how they are read back
            else:
                raise ValueError(f"unknown SPEC token {tok!r} in {text!r}")


def unpack_rows(codes, rows, cols, bits, signed):
    """Row-wise LSB-first bit streams of `bits`-bit codes -> int64 [rows, cols]."""
    assert codes.dtype == np.uint8, codes.dtype
    assert codes.shape == (rows, (cols * bits + 7) // 8), (codes.shape, rows, cols, bits)
    bitarr = np.unpackbits(codes, axis=1, bitorder="little")[:, : cols * bits]
    bitarr = bitarr.reshape(rows, cols, bits)
    q = np.zeros((rows, cols), dtype=np.int64)
    for k in range(bits):
        q |= bitarr[:, :, k].astype(np.int64) << k
    if signed:
        q = np.where(q >= (1 << (bits - 1)), q - (1 << bits), q)
    return q


def unpack_stream(buf, count, bits):
    """One LSB-first stream of `count` unsigned `bits`-bit codes."""
    assert buf.dtype == np.uint8 and buf.ndim == 1
    assert buf.size == (count * bits + 7) // 8, (buf.size, count, bits)
    bitarr = np.unpackbits(buf, bitorder="little")[: count * bits].reshape(count, bits)
    q = np.zeros(count, dtype=np.int64)
    for k in range(bits):
        q |= bitarr[:, k].astype(np.int64) << k
    return q


def block_index(shape, spec):
    """Parameter block of every element, [rows, cols], plus rows, cols, blocks."""
    cols = shape[-1] if len(shape) else 1
    numel = int(np.prod(shape)) if len(shape) else 1
    rows = numel // cols
    f = np.arange(numel, dtype=np.int64).reshape(rows, cols)
    if spec.granularity == "tensor":
        return np.zeros_like(f), rows, cols, 1, [1]
    if spec.granularity == "channel":
        a = spec.axis
        c = shape[a]
        inner = int(np.prod(shape[a + 1:])) if a + 1 < len(shape) else 1
        return (f // inner) % c, rows, cols, c, [c]
    g = spec.group
    gpr = -(-cols // g)
    r = np.arange(rows, dtype=np.int64)[:, None]
    j = np.arange(cols, dtype=np.int64)[None, :]
    return r * gpr + j // g, rows, cols, rows * gpr, [rows, gpr]


def reconstruct(name, info, parts):
    spec = Spec(info["scheme"])
    shape = [int(d) for d in info["shape"]]
    p = lambda s: parts[name + "." + s]  # noqa: E731
    used = {"qcodes"}
    b, rows, cols, nblocks, pshape = block_index(shape, spec)

    if spec.kind == "float":
        raw = p("qcodes")
        want = {"fp16": np.float16, "bf16": ml_dtypes.bfloat16, "fp8e4m3": ml_dtypes.float8_e4m3fn,
                "fp8e5m2": ml_dtypes.float8_e5m2}[spec.float_format]
        assert raw.dtype == np.dtype(want) and list(raw.shape) == shape, (name, raw.dtype, raw.shape)
        x = raw.astype(F32).reshape(rows, cols)
        if spec.float_format.startswith("fp8"):
            scale = p("qscale")
            used.add("qscale")
            assert scale.dtype == F32 and list(scale.shape) == pshape
            x = scale.reshape(-1)[b] * x  # fp32 * fp32
        return x.reshape(shape), used

    if spec.kind == "affine" and spec.bits == 16:
        raw = p("qcodes")
        assert raw.dtype == (np.int16 if spec.signed else np.uint16) and list(raw.shape) == shape
        q = raw.astype(np.int64).reshape(rows, cols)
    else:
        q = unpack_rows(p("qcodes"), rows, cols, spec.bits, spec.kind == "affine" and spec.signed)

    if spec.kind == "kmeans":
        cb = p("qcodebook")
        used.add("qcodebook")
        assert cb.dtype == F32 and cb.shape == (nblocks, 1 << spec.bits), (cb.shape, nblocks)
        return cb[b, q].reshape(shape), used

    if spec.kind == "grid":
        cb = p("qcodebook")
        scale = p("qscale")
        used |= {"qcodebook", "qscale"}
        assert cb.dtype == F32 and cb.ndim == 1 and scale.dtype == F32 and list(scale.shape) == pshape
        if spec.grid is not None:
            assert cb.size == len(spec.grid)
        assert q.max() < cb.size
        return (scale.reshape(-1)[b] * cb[q]).reshape(shape), used

    # affine
    if spec.symmetric:
        zero = np.full(nblocks, 0 if spec.signed else 1 << (spec.bits - 1), dtype=np.int64)
    else:
        z = p("qzero")
        used.add("qzero")
        zdt = {(True, False): np.int8, (False, False): np.uint8, (True, True): np.int16,
               (False, True): np.uint16}[(spec.signed, spec.bits == 16)]
        assert z.dtype == zdt and list(z.shape) == pshape, (name, z.dtype, z.shape)
        zero = z.reshape(-1).astype(np.int64)
    if spec.super_block:
        assert spec.granularity == "group" and spec.super_block % spec.group == 0
        per = spec.super_block // spec.group  # groups per super-block
        gpr = pshape[1]
        sup = p("qsuper_scale")
        used |= {"qsuper_scale", "qscale_codes"}
        assert sup.dtype == F32 and sup.shape == (rows, -(-gpr // per)), sup.shape
        codes = unpack_stream(p("qscale_codes"), nblocks, spec.scale_bits)
        assert codes.min() >= 1 and codes.max() <= (1 << spec.scale_bits) - 1
        r = np.repeat(np.arange(rows), gpr)
        g = np.tile(np.arange(gpr), rows)
        block_scale = sup[r, g // per] * codes.astype(F32)  # fp32 product
    else:
        s = p("qscale")
        used.add("qscale")
        assert s.dtype == F32 and list(s.shape) == pshape, (name, s.shape, pshape)
        block_scale = s.reshape(-1)
    diff = (q - zero[b]).astype(F32)  # exact: |q - Z| < 2^24
    assert block_scale.dtype == F32 and diff.dtype == F32
    return (block_scale[b] * diff).reshape(shape), used


def convert(src, dst):
    meta = safe_open(src, framework="numpy").metadata() or {}
    parts = load_file(src)
    assert meta.get("lowbit.format") == "1", meta.get("lowbit.format")
    quantized = json.loads(meta["lowbit.quantized"])
    out, consumed = {}, set()
    for name, info in quantized.items():
        x, used = reconstruct(name, info, parts)
        assert x.dtype == F32
        out[name] = np.ascontiguousarray(x)
        consumed |= {name + "." + u for u in used}
    leftover = [k for k in parts if k not in consumed]
    for k in leftover:
        assert not any(k.startswith(n + ".q") for n in quantized), f"unexpected part {k}"
        out[k] = parts[k]
    save_file(out, dst)
    return {"file": src, "scheme": meta.get("lowbit.scheme"), "quantized": sorted(quantized),
            "passthrough": sorted(leftover)}


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        sys.exit("usage: cli_lowbit_format.py QUANTIZED OUT [QUANTIZED OUT]...")
    print(json.dumps([convert(argv[i], argv[i + 1]) for i in range(0, len(argv), 2)]))


if __name__ == "__main__":
    main(sys.argv[1:])
