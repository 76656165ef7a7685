"""Reads a lowbit-written AWQ/GPTQ checkpoint the way the ecosystem does: transformers'
AutoConfig and its AwqConfig/GPTQConfig parse quantization_config; AutoAWQ's
dequantize_gemm (awq/utils/packing_utils.py) or AutoGPTQ's QuantLinear
(auto_gptq/nn_modules/qlinear/qlinear_cuda.py, its torch path: CPU, no CUDA extension)
dequantize every Linear, scales taken to fp32 first so the products are exact; a GPTQ v2
checkpoint goes through the v2 -> v1 step GPTQModel documents (zero - 1 per field) before
AutoGPTQ reads it. A plain transformers model built from the config with those weights
then gives the logits.

  --dir CKPT --ids IDS.json --out DIR  -> DIR/config.json (what transformers parsed),
  DIR/weights.safetensors (each quantized Linear's weight, fp32 [out, in], HF names),
  DIR/logits.f32 (every sequence's logits, concatenated)
"""
import argparse
import copy
import importlib.util
import json
import os
import sys

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file
from safetensors.torch import load_file


def load_file_module(package, relpath, name):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(package + " is not installed in this Python (scripts/install-deps.sh installs it in .venv-torch)")
    path = os.path.join(list(spec.submodule_search_locations)[0], relpath)
    s = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


class Torch2Indexing:
    """torch as AutoAWQ expects it: torch >= 2 indexes with int32 tensors, Debian's 1.13
    only with int64, so the index vector reverse_awq_order builds is made int64."""

    def __getattr__(self, name):
        return getattr(torch, name)

    def arange(self, *args, **kw):
        if kw.get("dtype") is torch.int32:
            kw["dtype"] = torch.int64
        return torch.arange(*args, **kw)


def v2_zeros_to_v1(qzeros, bits):
    # Unpack the little-endian bit stream of each row, subtract 1 modulo 2^bits, repack.
    words = qzeros.numpy().astype(np.uint32)
    rows, n = words.shape
    bitsarr = np.unpackbits(words.view(np.uint8).reshape(rows, n * 4), axis=1, bitorder="little")
    fields = bitsarr.reshape(rows, n * 32 // bits, bits)
    vals = (fields * (1 << np.arange(bits))).sum(axis=2)
    vals = (vals - 1) % (1 << bits)
    fields = ((vals[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8)
    packed = np.packbits(fields.reshape(rows, n * 32), axis=1, bitorder="little").view(np.uint32)
    return torch.from_numpy(packed.view(np.int32).copy())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)

    cfg = transformers.AutoConfig.from_pretrained(a.dir)
    qc = cfg.quantization_config
    method = qc["quant_method"]
    parsed = (transformers.AwqConfig if method == "awq" else transformers.GPTQConfig).from_dict(qc)
    seen = {"model_type": cfg.model_type, "quant_method": method, "bits": parsed.bits, "group_size": parsed.group_size}
    if method == "awq":
        seen.update(zero_point=parsed.zero_point, version=str(parsed.version.value if hasattr(parsed.version, "value") else parsed.version))
    else:
        seen.update(sym=parsed.sym, desc_act=parsed.desc_act, checkpoint_format=parsed.checkpoint_format)
    json.dump(seen, open(os.path.join(a.out, "config.json"), "w"))

    sd = load_file(os.path.join(a.dir, "model.safetensors"))
    bits, group = parsed.bits, parsed.group_size
    weights, plain = {}, {}
    if method == "awq":
        pu = load_file_module("awq", os.path.join("utils", "packing_utils.py"), "awq_packing_utils")
        pu.torch = Torch2Indexing()
    else:
        ql = load_file_module("auto_gptq", os.path.join("nn_modules", "qlinear", "qlinear_cuda.py"), "autogptq_qlinear_cuda")
    for key, t in sd.items():
        if not key.endswith(".qweight"):
            if not key.endswith((".qzeros", ".scales", ".g_idx")):
                plain[key] = t.float()
            continue
        base = key[: -len(".qweight")]
        qweight, qzeros, scales = sd[key], sd[base + ".qzeros"], sd[base + ".scales"]
        if method == "awq":
            w = pu.dequantize_gemm(qweight, qzeros, scales.float(), bits, group).t()
        else:
            infeatures, outfeatures = sd[base + ".g_idx"].shape[0], scales.shape[1]
            m = ql.QuantLinear(bits, group, infeatures, outfeatures, False)
            m.qweight = qweight
            m.qzeros = v2_zeros_to_v1(qzeros, bits) if parsed.checkpoint_format == "gptq_v2" else qzeros
            m.scales = scales.float()
            m.g_idx = sd[base + ".g_idx"]
            w = m(torch.eye(infeatures, dtype=torch.float32)).t()
        weights[base] = w.contiguous()
    save_file({k + ".weight": v.numpy() for k, v in weights.items()}, os.path.join(a.out, "weights.safetensors"))

    plain_cfg = copy.deepcopy(cfg)
    del plain_cfg.quantization_config
    plain_cfg.torch_dtype = torch.float32
    model = transformers.AutoModelForCausalLM.from_config(plain_cfg, torch_dtype=torch.float32).eval()
    state = dict(plain)
    state.update({k + ".weight": v for k, v in weights.items()})
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (cfg.tie_word_embeddings and k == "lm_head.weight") and "rotary_emb" not in k]
    if missing or unexpected:
        sys.exit("state dict mismatch: missing %s, unexpected %s" % (missing, unexpected))
    if cfg.tie_word_embeddings:
        model.tie_weights()
    ids = json.load(open(a.ids))
    with open(os.path.join(a.out, "logits.f32"), "wb") as f:
        with torch.no_grad():
            for s in ids:
                f.write(model(torch.tensor([s])).logits[0].float().numpy().astype(np.float32).tobytes())


if __name__ == "__main__":
    main()
