"""Generates the hostile safetensors files in this folder (and, with --seeds DIR, small
valid seed files for fuzz/corpus/safetensors). Each hostile file breaks one rule of the
format; manifest.json says which tensor, if any, the error message must name.

Run from anywhere: .venv/bin/python tests/data/hostile/make_hostile.py [--seeds DIR]
Output is deterministic so regenerating it gives no git diff."""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np
import ml_dtypes
from safetensors.numpy import save, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
manifest = []


def frame(header, data=b"", length=None):
    """8-byte little-endian header length + header (a dict, str or bytes) + data."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    if isinstance(header, str):
        header = header.encode("utf-8")
    return struct.pack("<Q", len(header) if length is None else length) + header + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def add(name, content, tensor=None, why=""):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(content)
    manifest.append({"path": name, "kind": "file", "tensor": tensor, "why": why})


def add_checkpoint(name, index, shards, tensor=None, why=""):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    for shard, tensors in shards.items():
        save_file(tensors, os.path.join(d, shard))
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
    manifest.append({"path": name, "kind": "checkpoint", "tensor": tensor, "why": why})


def valid():
    return save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(3, dtype=np.int16)},
                metadata={"format": "np"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", help="also write valid seed files for the fuzzer here")
    args = ap.parse_args()

    for name in os.listdir(HERE):
        p = os.path.join(HERE, name)
        if name != os.path.basename(__file__):
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)

    good = valid()
    n = struct.unpack("<Q", good[:8])[0]
    add("empty_file.safetensors", b"", why="0 bytes: no header length")
    add("short_length.safetensors", good[:5], why="file shorter than the 8-byte length")
    add("truncated_header.safetensors", good[: 8 + n // 2], why="file ends inside the header")
    good_header = json.loads(good[8:8 + n])
    last = max((k for k in good_header if k != "__metadata__"), key=lambda k: good_header[k]["data_offsets"][1])
    add("truncated_file.safetensors", good[: len(good) - 5], tensor=last, why="file ends inside the data section")
    add("huge_header_length.safetensors", frame(b"{}", length=2**64 - 1), why="N = 2^64-1")
    add("header_length_past_eof.safetensors", frame(b"{}    ", length=7), why="N one byte past EOF")
    add("non_utf8_header.safetensors", frame(b'{"w\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        why="0xFF byte in a key")
    add("overlong_utf8_header.safetensors", frame(b'{"\xc0\xaf":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        why="overlong encoding of '/'")
    add("invalid_json.safetensors", frame('{"w":{"dtype":"F32","shape":[1],'), why="JSON cut short")
    add("trailing_garbage_json.safetensors", frame('{}x'), why="text after the JSON object")
    add("non_object_json.safetensors", frame("[1,2,3]"), why="root is an array")
    add("string_json.safetensors", frame('"hello"'), why="root is a string")
    add("deep_nesting.safetensors", frame('{"w":' + "[" * 5000 + "]" * 5000 + "}"), tensor=None,
        why="nesting far deeper than a header needs")
    add("duplicate_tensor_names.safetensors",
        frame('{"dup":' + json.dumps(entry("U8", [1], 0, 1)) + ',"dup":' + json.dumps(entry("U8", [1], 1, 2)) + "}", b"\0\0"),
        tensor="dup", why="same key twice; JSON parsers keep one silently")
    add("duplicate_field.safetensors",
        frame('{"w":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        tensor="w", why="dtype given twice in one entry")
    add("duplicate_metadata.safetensors",
        frame('{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}'), tensor="__metadata__", why="two metadata objects")
    add("overlapping_ranges.safetensors",
        frame({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, bytes(12)), tensor="b",
        why="b starts inside a")
    add("hole_between_ranges.safetensors",
        frame({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, bytes(12)), tensor="b",
        why="bytes 4..8 belong to no tensor")
    add("trailing_data.safetensors", frame({"a": entry("F32", [1], 0, 4)}, bytes(8)),
        why="4 data bytes after the last tensor")
    add("offsets_past_end.safetensors", frame({"a": entry("F32", [2], 0, 8)}, bytes(4)), tensor="a",
        why="end 8 in a 4-byte data section")
    add("huge_offsets.safetensors", frame({"a": entry("U8", [0], 2**64 - 1, 2**64 - 1)}), tensor="a",
        why="offsets near 2^64")
    add("begin_after_end.safetensors", frame({"a": entry("F32", [1], 8, 4)}, bytes(8)), tensor="a", why="begin > end")
    add("offsets_negative.safetensors", frame({"a": entry("F32", [1], -4, 0)}, bytes(4)), tensor="a",
        why="negative begin")
    add("offsets_three.safetensors", frame({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}, bytes(4)),
        tensor="a", why="three offsets")
    add("offsets_float.safetensors", frame({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}}, bytes(4)),
        tensor="a", why="float offset")
    add("bad_dtype.safetensors", frame({"a": entry("F7", [1], 0, 1)}, bytes(1)), tensor="a", why="unknown dtype")
    add("dtype_not_string.safetensors", frame({"a": entry(4, [1], 0, 4)}, bytes(4)), tensor="a", why="dtype 4")
    add("negative_shape.safetensors", frame({"a": entry("F32", [-1, 4], 0, 16)}, bytes(16)), tensor="a",
        why="shape [-1, 4]")
    add("float_shape.safetensors", frame({"a": entry("F32", [1.5], 0, 4)}, bytes(4)), tensor="a", why="shape [1.5]")
    add("shape_not_array.safetensors", frame({"a": entry("F32", 4, 0, 16)}, bytes(16)), tensor="a", why="shape 4")
    add("shape_overflow.safetensors", frame({"a": entry("F32", [2**40, 2**40], 0, 0)}), tensor="a",
        why="2^80 elements")
    add("shape_overflow_then_zero.safetensors", frame({"a": entry("U8", [2**40, 2**40, 0], 0, 0)}), tensor="a",
        why="product overflows before the 0 dimension, as the reference rejects")
    add("shape_past_int64.safetensors", frame({"a": entry("U8", [0, 2**63], 0, 0)}), tensor="a",
        why="dimension 2^63 does not fit int64")
    add("shape_bigger_than_u64.safetensors", frame('{"a":{"dtype":"U8","shape":[0,184467440737095516160],'
                                                   '"data_offsets":[0,0]}}'), tensor="a",
        why="dimension beyond uint64")
    add("byte_size_mismatch.safetensors", frame({"a": entry("F32", [3], 0, 8)}, bytes(8)), tensor="a",
        why="3 floats in 8 bytes")
    add("missing_field.safetensors", frame({"a": {"dtype": "F32", "shape": [1]}}, bytes(4)), tensor="a",
        why="no data_offsets")
    add("extra_field.safetensors", frame({"a": dict(entry("F32", [1], 0, 4), extra=1)}, bytes(4)), tensor="a",
        why="unknown field")
    add("entry_not_object.safetensors", frame({"a": [0, 4]}, bytes(4)), tensor="a", why="entry is an array")
    add("metadata_non_string.safetensors", frame({"__metadata__": {"k": 1}}), tensor="k",
        why="metadata value is a number")
    add("metadata_nested.safetensors", frame({"__metadata__": {"k": {"x": "y"}}}), tensor="k",
        why="metadata value is an object")
    add("metadata_not_object.safetensors", frame({"__metadata__": "x"}), tensor=None,
        why="metadata is a string")

    a = {"a": np.ones(2, np.float32)}
    b = {"b": np.zeros(3, np.int8)}
    add_checkpoint("index_missing_shard", {"metadata": {"total_size": 11},
                                           "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                          "b": "model-00002-of-00002.safetensors"}},
                   {"model-00001-of-00002.safetensors": a}, tensor="b", why="second shard absent")
    # json.dump cannot write a duplicate key, so this index is written by hand.
    d = os.path.join(HERE, "index_duplicate_tensor")
    os.makedirs(d)
    save_file(a, os.path.join(d, "s1.safetensors"))
    save_file(b, os.path.join(d, "s2.safetensors"))
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write('{"metadata": {}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "a": "s2.safetensors"}}')
    manifest.append({"path": "index_duplicate_tensor", "kind": "checkpoint", "tensor": "a",
                     "why": "weight_map lists a twice, for two shards"})
    add_checkpoint("index_wrong_shard", {"weight_map": {"a": "s2.safetensors", "b": "s2.safetensors"}},
                   {"s1.safetensors": a, "s2.safetensors": b}, tensor="a", why="a listed in the shard without it")
    add_checkpoint("index_tensor_in_two_shards", {"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}},
                   {"s1.safetensors": a, "s2.safetensors": {**a, **b}}, tensor="a", why="a stored in both shards")
    add_checkpoint("index_unlisted_tensor", {"weight_map": {"a": "s1.safetensors"}},
                   {"s1.safetensors": {**a, **b}}, tensor="b", why="shard holds a tensor the index omits")
    add_checkpoint("index_path_escape", {"weight_map": {"a": "../index_wrong_shard/s1.safetensors"}},
                   {}, tensor="a", why="shard name leaves the folder")
    add_checkpoint("index_absolute_path", {"weight_map": {"a": "/etc/passwd"}}, {}, tensor="a",
                   why="absolute shard path")
    add_checkpoint("index_no_weight_map", {"metadata": {}}, {}, why="no weight_map")
    add_checkpoint("index_hostile_shard", {"weight_map": {"a": "bad.safetensors"}}, {}, tensor="a",
                   why="the shard itself is hostile")
    with open(os.path.join(HERE, "index_hostile_shard", "bad.safetensors"), "wb") as f:
        f.write(frame({"a": entry("F32", [3], 0, 8)}, bytes(8)))

    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    if args.seeds:
        os.makedirs(args.seeds, exist_ok=True)
        rng = np.random.default_rng(0)
        seeds = {
            "seed_empty.safetensors": save({}),
            "seed_small.safetensors": good,
            "seed_scalar_and_empty.safetensors": save({"s": np.array(3.5, np.float64), "e": np.zeros((0, 3), np.float32)}),
        }
        kinds = [np.float64, np.float32, np.float16, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2,
                 np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_]
        for k in kinds:
            arr = (rng.standard_normal((2, 3)) * 3).astype(k)
            seeds[f"seed_{np.dtype(k).name}.safetensors"] = save({"t": arr}, metadata={"dtype": np.dtype(k).name})
        seeds["seed_all_dtypes.safetensors"] = save({f"t{i}": (rng.standard_normal(i + 1) * 3).astype(k)
                                                      for i, k in enumerate(kinds)})
        for name, content in seeds.items():
            with open(os.path.join(args.seeds, name), "wb") as f:
                f.write(content)
        for m in manifest:
            if m["kind"] == "file":
                shutil.copy(os.path.join(HERE, m["path"]), os.path.join(args.seeds, "hostile_" + m["path"]))


if __name__ == "__main__":
    sys.exit(main())
