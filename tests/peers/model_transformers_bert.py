"""transformers' BertModel (fp32, eval, eager attention) on given token ids: the peer of
lowbit's BertEncoder. Sequences run in right-padded batches with an attention mask, the
way sentence-transformers encodes; outputs keep only the real tokens.

usage: model_transformers_bert.py --model DIR --ids ids.json --out DIR [--model2 DIR] [--batch 8]
writes OUT/hidden.f32  last_hidden_state rows of every sequence's tokens [sum T, H]
       OUT/pooled.f32  sentence-transformers' mean pooling (sum(h*mask)/clamp(sum mask, 1e-9)) [N, H]
       OUT/normalized.f32  pooled after Normalize (F.normalize, p=2) [N, H]
       OUT/pooled2.f32 and per-sentence cosines (float64 of the fp32 vectors) when --model2
       OUT/meta.json"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import BertModel

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--model2")
ap.add_argument("--ids", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--batch", type=int, default=8)
a = ap.parse_args()

torch.set_grad_enabled(False)
transformers.logging.set_verbosity_error()  # the unused pooler weights are expected
seqs = json.load(open(a.ids))["ids"]


def run(model_dir):
    model = BertModel.from_pretrained(model_dir, torch_dtype=torch.float32, attn_implementation="eager",
                                      add_pooling_layer=False).eval()
    hidden, pooled = [None] * len(seqs), [None] * len(seqs)
    # Batches of similar lengths, as sentence-transformers' encode() sorts them: padding
    # still occurs (and is masked), but torch's CPU matmuls (reference BLAS in Debian)
    # do not spend minutes on it.
    order = sorted(range(len(seqs)), key=lambda i: (len(seqs[i]), i))
    for b in range(0, len(order), a.batch):
        chunk = order[b:b + a.batch]
        T = max(len(seqs[i]) for i in chunk)
        ids = torch.zeros(len(chunk), T, dtype=torch.long)
        mask = torch.zeros(len(chunk), T, dtype=torch.long)
        for r, i in enumerate(chunk):
            ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
            mask[r, :len(seqs[i])] = 1
        h = model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).expand(h.size()).to(h.dtype)
        p = torch.sum(h * m, 1) / torch.clamp(m.sum(1), min=1e-9)
        for r, i in enumerate(chunk):
            hidden[i] = h[r, :len(seqs[i])]
            pooled[i] = p[r]
    return torch.cat(hidden).numpy(), torch.stack(pooled)


def cosines(x, y):
    x, y = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    return ((x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))).tolist()


os.makedirs(a.out, exist_ok=True)
hidden, pooled = run(a.model)
hidden.astype("<f4").tofile(os.path.join(a.out, "hidden.f32"))
pooled.numpy().astype("<f4").tofile(os.path.join(a.out, "pooled.f32"))
F.normalize(pooled, p=2, dim=1).numpy().astype("<f4").tofile(os.path.join(a.out, "normalized.f32"))
meta = {"count": len(seqs), "hidden_size": int(pooled.shape[1]), "lengths": [len(s) for s in seqs],
        "transformers": transformers.__version__, "torch": torch.__version__}
if a.model2:
    _, pooled2 = run(a.model2)
    pooled2.numpy().astype("<f4").tofile(os.path.join(a.out, "pooled2.f32"))
    meta["cosine"] = cosines(pooled, pooled2)
with open(os.path.join(a.out, "meta.json"), "w") as f:
    json.dump(meta, f)
print(json.dumps({k: meta[k] for k in ("count", "transformers", "torch")}))
