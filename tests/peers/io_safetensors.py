"""Peer for tests/io/test_safetensors_peer.cpp: the PyPI `safetensors` package writes and
reads the files lowbit must interoperate with. Every command prints a JSON manifest
{"file", "metadata", "tensors": [{"name", "dtype", "shape", "bin"}]} where "bin" is a side
file holding the tensor's raw little-endian bytes, so C++ compares bytes, not numbers.

  write DIR        every dtype safetensors supports (+ 0-d, empty, metadata) -> DIR/peer.safetensors
  unsupported DIR  one file per dtype that safetensors has and lowbit may lack
  shards DIR       a 3-shard checkpoint + model.safetensors.index.json, as transformers saves it
  dump FILE DIR    loads FILE with safetensors (safe_open, deserialize, numpy.load_file)
  serialize MANIFEST OUT   safetensors' own serialisation of a dumped manifest's tensors"""
import hashlib
import json
import os
import sys

import ml_dtypes
import numpy as np
import safetensors
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

# numpy dtype -> safetensors dtype string (the names the package writes).
DTYPES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
    "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
    "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64", "bool": "BOOL",
}
NUMPY_OF = {v: k for k, v in DTYPES.items()}


def random_array(rng, dtype, shape):
    """Values that exercise the whole bit pattern space, not just small integers."""
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    size = np.dtype(getattr(ml_dtypes, dtype, None) or dtype).itemsize
    raw = rng.integers(0, 256, n * size, dtype=np.uint8).tobytes()
    arr = np.frombuffer(raw, dtype=getattr(ml_dtypes, dtype, None) or np.dtype(dtype)).reshape(shape)
    return arr.copy()


def manifest_from(path, tensors, metadata, outdir):
    items = []
    for i, (name, arr) in enumerate(tensors.items()):
        bin_path = os.path.join(outdir, f"t{i}.bin")
        with open(bin_path, "wb") as f:
            f.write(np.ascontiguousarray(arr).tobytes())
        # numpy's (and ml_dtypes') astype(float32) is the reference for tensor_to_f32.
        f32_path = os.path.join(outdir, f"t{i}.f32")
        with open(f32_path, "wb") as f, np.errstate(over="ignore"):  # big F64 -> inf, as IEEE says
            f.write(np.ascontiguousarray(arr).astype(np.float32).tobytes())
        items.append({"name": name, "dtype": DTYPES[arr.dtype.name], "shape": list(arr.shape), "bin": bin_path,
                      "f32": f32_path})
    return {"file": path, "metadata": metadata or {}, "tensors": items}


def cmd_write(d):
    rng = np.random.default_rng(1234)
    tensors = {}
    for i, dt in enumerate(DTYPES):
        tensors[f"layer.{i}.{dt}"] = random_array(rng, dt, (3, 5 + i))
        tensors[f"scalar.{dt}"] = random_array(rng, dt, ())
        tensors[f"empty.{dt}"] = random_array(rng, dt, (0, 4))
    tensors["odd.sizes"] = random_array(rng, "uint8", (7, 3, 1))
    metadata = {"format": "pt", "note": "caf\u00e9 \"quoted\" \n tab\t", "empty": ""}
    path = os.path.join(d, "peer.safetensors")
    save_file(tensors, path, metadata=metadata)
    return manifest_from(path, tensors, metadata, d)


def cmd_unsupported(d):
    """Raw serialisation: numpy has no dtype for these, so TensorSpec takes raw bytes."""
    out = []
    buf = np.arange(64, dtype=np.uint8)
    # st name: (TensorSpec dtype, TensorSpec shape, bytes); F4 is given in pairs (x2).
    specs = {"F8_E8M0": ("float8_e8m0fnu", (4,), 4), "F4": ("float4_e2m1fn_x2", (2,), 2),
             "C64": ("complex64", (2,), 16), "F8_E4M3FNUZ": ("float8_e4m3fnuz", (4,), 4),
             "F8_E5M2FNUZ": ("float8_e5m2fnuz", (4,), 4)}
    for st, (name, spec_shape, nbytes) in specs.items():
        path = os.path.join(d, f"{st}.safetensors")
        spec = safetensors.TensorSpec(dtype=name, shape=spec_shape, data_ptr=buf.ctypes.data, data_len=nbytes)
        safetensors.serialize_file({"x": spec}, path)
        with safe_open(path, framework="numpy") as f:  # the shape as the file states it
            shape = f.get_slice("x").get_shape()
        bin_path = os.path.join(d, f"{st}.bin")
        with open(bin_path, "wb") as f:
            f.write(buf[:nbytes].tobytes())
        out.append({"file": path, "metadata": {},
                    "tensors": [{"name": "x", "dtype": st, "shape": list(shape), "bin": bin_path}]})
    return out


def cmd_shards(d):
    """Mirrors transformers' save_pretrained(safe_serialization=True) for 3 shards."""
    rng = np.random.default_rng(99)
    layers = {}
    for i in range(4):
        layers[f"model.layers.{i}.self_attn.q_proj.weight"] = random_array(rng, "bfloat16", (8, 8))
        layers[f"model.layers.{i}.mlp.up_proj.weight"] = random_array(rng, "float16", (16, 8))
        layers[f"model.layers.{i}.input_layernorm.weight"] = random_array(rng, "float32", (8,))
    layers["model.embed_tokens.weight"] = random_array(rng, "float32", (32, 8))
    names = list(layers)
    shards = [names[0::3], names[1::3], names[2::3]]
    weight_map, total = {}, 0
    for k, group in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: layers[n] for n in group}, os.path.join(d, fname), metadata={"format": "pt"})
        for n in group:
            weight_map[n] = fname
            total += layers[n].nbytes
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    ordered = {n: layers[n] for n in sorted(weight_map)}  # index order, as sort_keys wrote it
    m = manifest_from(os.path.join(d, "model.safetensors.index.json"), ordered, {}, d)
    for t in m["tensors"]:
        t["shard"] = os.path.join(d, weight_map[t["name"]])
    m["total_size"] = total
    return m


def cmd_dump(path, d):
    raw = dict(safetensors.deserialize(open(path, "rb").read()))
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
        keys = list(f.keys())
    if sorted(keys) != sorted(raw):
        raise SystemExit(f"safe_open keys {keys} != deserialize keys {list(raw)}")
    # numpy's loader only knows the numpy-native dtypes; where it applies it must agree.
    native = {k for k, v in raw.items() if v["dtype"] in ("F64", "F32", "F16", "I8", "I16", "I32", "I64",
                                                          "U8", "U16", "U32", "U64", "BOOL")}
    loaded = load_file(path) if len(native) == len(raw) else {}
    items = []
    for i, name in enumerate(keys):
        v = raw[name]
        data = bytes(v["data"])
        if name in loaded and loaded[name].tobytes() != data:
            raise SystemExit(f"numpy.load_file and deserialize disagree on {name}")
        bin_path = os.path.join(d, f"d{i}.bin")
        with open(bin_path, "wb") as f:
            f.write(data)
        items.append({"name": name, "dtype": v["dtype"], "shape": list(v["shape"]), "bin": bin_path,
                      "sha256": hashlib.sha256(data).hexdigest()})
    return {"file": path, "metadata": metadata, "tensors": items}


def cmd_serialize(manifest_path, out):
    m = json.load(open(manifest_path))
    specs, keep = {}, []
    for t in m["tensors"]:
        data = np.frombuffer(open(t["bin"], "rb").read(), dtype=np.uint8).copy()
        keep.append(data)
        specs[t["name"]] = safetensors.TensorSpec(dtype=NUMPY_OF[t["dtype"]], shape=tuple(t["shape"]),
                                                  data_ptr=data.ctypes.data, data_len=data.nbytes)
    safetensors.serialize_file(specs, out, metadata=m["metadata"] or None)
    return {"file": out}


def main(argv):
    cmd = argv[1]
    if cmd == "write":
        result = cmd_write(argv[2])
    elif cmd == "unsupported":
        result = cmd_unsupported(argv[2])
    elif cmd == "shards":
        result = cmd_shards(argv[2])
    elif cmd == "dump":
        result = cmd_dump(argv[2], argv[3])
    elif cmd == "serialize":
        result = cmd_serialize(argv[2], argv[3])
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv)
