"""Peer for tests/io/test_imatrix_peer.cpp: importance-matrix files as llama.cpp writes
them, and the importance values llama-quantize derives from them.

  write DIR   random statistics (plain and 3-D expert weights, an expert no token hit, a
              weight with no data at all) written three ways:
                ggml.imatrix.gguf  through ggml's C API exactly as llama-imatrix's
                                   save_imatrix does (tools/imatrix/imatrix.cpp)
                py.imatrix.gguf    through the gguf package's GGUFWriter
                legacy.dat         the legacy format; a Python transcription of
                                   save_imatrix_legacy (no shipped library exports it)
              and prints the statistics, the raw entries the .dat holds, and the values
              llama-quantize's load_imatrix (tools/quantize/quantize.cpp) computes from
              each form, evaluated here in float32 as its C++ does.
  read FILE   the gguf package's view of an imatrix GGUF (KVs, tensors as f32 bits)

Floats travel as their uint32 bit patterns."""
import ctypes
import json
import math
import os
import struct
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import io_gguf  # noqa: E402  (ggml's C API through ctypes)

F32 = 0  # GGML_TYPE_F32


def bits(a):
    return np.asarray(a, dtype=np.float32).view(np.uint32).tolist()


def make_stats(rng):
    """name -> (values float32 [nmat*ne0], counts int64 [nmat]) as IMatrixCollector holds them."""
    stats = {}
    for layer in range(2):
        for w, ne0 in (("attn_q", 64), ("ffn_down", 96)):
            counts = np.array([int(rng.integers(100, 5000))], dtype=np.int64)
            stats[f"blk.{layer}.{w}.weight"] = ((rng.random(ne0) * counts[0]).astype(np.float32), counts)
    nmat, ne0 = 4, 32
    counts = rng.integers(10, 900, nmat).astype(np.int64)
    counts[2] = 0  # an expert no token was routed to
    values = (rng.random(nmat * ne0) * 50).astype(np.float32)
    values[2 * ne0:3 * ne0] = 0
    stats["blk.0.ffn_up_exps.weight"] = (values, counts)
    stats["blk.1.ffn_gate_exps.weight"] = (np.zeros(2 * 16, dtype=np.float32), np.zeros(2, dtype=np.int64))
    return stats


def write_ggml(path, stats, datasets, chunk_count, chunk_size):
    """save_imatrix: KVs in this order, then per sorted name in_sum2 [ne0, nmat] and
    counts [1, nmat] as ggml tensors (ggml_n_dims drops trailing 1s when writing)."""
    lib = io_gguf.ggml_lib()
    g = lib.gguf_init_empty()
    lib.gguf_set_val_str(g, b"general.type", b"imatrix")
    arr = (ctypes.c_char_p * len(datasets))(*[d.encode() for d in datasets])
    lib.gguf_set_arr_str(g, b"imatrix.datasets", arr, len(datasets))
    lib.gguf_set_val_u32(g, b"imatrix.chunk_count", chunk_count)
    lib.gguf_set_val_u32(g, b"imatrix.chunk_size", chunk_size)
    ctx = lib.ggml_init(io_gguf.GgmlInitParams(mem_size=1 << 20, mem_buffer=None, no_alloc=False))
    for name in sorted(stats):
        values, counts = stats[name]
        nmat = len(counts)
        for suffix, ne, data in ((".in_sum2", (len(values) // nmat, nmat), values),
                                 (".counts", (1, nmat), counts.astype(np.float32))):
            t = lib.ggml_new_tensor(ctx, F32, 2, (ctypes.c_int64 * 2)(*ne))
            lib.ggml_set_name(t, (name + suffix).encode())
            raw = np.ascontiguousarray(data, dtype=np.float32).tobytes()
            ctypes.memmove(lib.ggml_get_data(t), raw, len(raw))
            lib.gguf_add_tensor(g, t)
    if not lib.gguf_write_to_file(g, path.encode(), False):
        raise SystemExit("gguf_write_to_file failed")
    lib.gguf_free(g)
    lib.ggml_free(ctx)


def write_gguf_py(path, stats, datasets, chunk_count, chunk_size):
    w = GGUFWriter(path, "llama")  # the package always adds general.architecture
    w.add_type("imatrix")
    w.add_array("imatrix.datasets", datasets)
    w.add_uint32("imatrix.chunk_count", chunk_count)
    w.add_uint32("imatrix.chunk_size", chunk_size)
    for name in sorted(stats):
        values, counts = stats[name]
        nmat = len(counts)
        w.add_tensor(name + ".in_sum2", values.reshape(nmat, -1))
        w.add_tensor(name + ".counts", counts.astype(np.float32).reshape(nmat, 1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_legacy(path, stats, last_chunk, chunk_size, dataset):
    """save_imatrix_legacy, line by line: entries with no data at all are skipped, ncall is
    the ceiling of max(counts)/chunk_size, a value is (value/count)*ncall in float32 with
    value = count = 1 where the count is 0, then the chunk count and the dataset name."""
    stored = {}
    for name in sorted(stats):
        values, counts = stats[name]
        if np.all(counts == 0):
            continue
        ncall = int((int(counts.max()) + (chunk_size - 1)) // chunk_size)
        nval, nmat = len(values), len(counts)
        tmp = np.empty(nval, dtype=np.float32)
        for i in range(nval):
            count = np.float32(counts[i // (nval // nmat)])
            value = np.float32(values[i])
            if count == np.float32(0):
                value, count = np.float32(1), np.float32(1)
            tmp[i] = (value / count) * np.float32(ncall)
        stored[name] = (tmp, ncall)
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(stored)))
        for name, (tmp, ncall) in stored.items():
            f.write(struct.pack("<i", len(name.encode())) + name.encode())
            f.write(struct.pack("<ii", ncall, len(tmp)) + tmp.tobytes())
        f.write(struct.pack("<i", last_chunk))
        f.write(struct.pack("<i", len(dataset.encode())) + dataset.encode())
    return stored


def lround(x):
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_values_gguf(values, counts_f32):
    """quantize.cpp load_imatrix, GGUF branch: per matrix j, sums / (float)lround(count),
    or 1 where the count is not positive."""
    ncounts = len(counts_f32)
    ne0 = len(values) // ncounts
    e = np.empty(len(values), dtype=np.float32)
    for j in range(ncounts):
        count = np.float32(lround(float(counts_f32[j])))
        for i in range(ne0):
            e[j * ne0 + i] = values[j * ne0 + i] / count if count > 0 else np.float32(1)
    return e


def quantize_values_legacy(stored, ncall):
    """quantize.cpp load_imatrix, legacy branch: sums / (float)ncall, unchanged if ncall <= 0."""
    return stored / np.float32(ncall) if ncall > 0 else stored.copy()


def cmd_write(d):
    rng = np.random.default_rng(31337)
    stats = make_stats(rng)
    chunk_size = 512
    chunk_count = int(max(int(c.max()) for _, c in stats.values()) // chunk_size)
    datasets = ["wiki.train.raw", "caf\u00e9.txt"]
    files = {"ggml": os.path.join(d, "ggml.imatrix.gguf"), "py": os.path.join(d, "py.imatrix.gguf"),
             "dat": os.path.join(d, "legacy.dat")}
    write_ggml(files["ggml"], stats, datasets, chunk_count, chunk_size)
    write_gguf_py(files["py"], stats, datasets, chunk_count, chunk_size)
    stored = write_legacy(files["dat"], stats, chunk_count, chunk_size, datasets[-1])
    out = {"files": files, "datasets": datasets, "chunk_count": chunk_count, "chunk_size": chunk_size,
           "stats": {}, "dat": {}}
    for name, (values, counts) in stats.items():
        out["stats"][name] = {"sums": bits(values), "counts": counts.tolist(),
                              "values": bits(quantize_values_gguf(values, counts.astype(np.float32)))}
    for name, (tmp, ncall) in stored.items():
        out["dat"][name] = {"sums": bits(tmp), "ncall": ncall, "values": bits(quantize_values_legacy(tmp, ncall))}
    return out


def cmd_read(path):
    r = GGUFReader(path)
    kv = {}
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue
        types = [GGUFValueType(t).name for t in field.types]
        kv[name] = {"types": types, "value": field.contents()}
    tensors = [{"name": t.name, "ne": [int(x) for x in t.shape], "type": int(t.tensor_type),
                "data": bits(np.asarray(t.data).ravel())} for t in r.tensors]
    return {"kv": kv, "tensors": tensors}


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        out = cmd_write(sys.argv[2])
    elif cmd == "read":
        out = cmd_read(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {cmd}")
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
