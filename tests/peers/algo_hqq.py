"""HQQ (PyPI hqq 0.2.8.post1) as the peer of lowbit's HQQ: its
hqq.core.optimize.optimize_weights_proximal_legacy (the half-quadratic refinement that
Quantizer.quantize runs by default) on torch's CPU. hqq.core.quantize itself needs
torch.compile (torch >= 2), which Debian's torch 1.13 lacks, so its few setup lines
(Quantizer.quantize: groups along the input axis, inverse scale maxq / (max - min) set to
1 where max - min <= 1e-4 and clamped to 2e4, zero = -min * scale) are restated here.

  --w W.f32 --rows R --cols C --bits B --group G --out P
      -> P.codes.u8 ([R, C]), P.scale.f32 and P.zero.f32 ([R, C/G]; scale = 1/inverse)
"""
import argparse
import os
import sys

import numpy as np
import torch

# scripts/install-deps.sh keeps hqq outside .venv-torch (transformers would import it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".deps", "hqq"))
from hqq.core.optimize import optimize_weights_proximal_legacy  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--w", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--bits", type=int, required=True)
    ap.add_argument("--group", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    w = torch.from_numpy(np.fromfile(a.w, dtype=np.float32).reshape(a.rows, a.cols))
    W = w.reshape([-1, a.group])  # axis=1: rows of `group` consecutive weights
    mn = W.min(axis=1, keepdim=True)[0]
    mx = W.max(axis=1, keepdim=True)[0]
    max_v = round(2 ** a.bits - 1)
    denom = mx - mn
    scale = max_v / denom
    scale = torch.where(denom.abs() <= 1e-4, torch.full_like(scale, 1.0), scale)
    scale = scale.clamp(max=2e4)
    zero = -mn * scale
    W_q, scale, zero = optimize_weights_proximal_legacy(W, scale, zero, [0, max_v], axis=1, device="cpu")
    W_q.to(torch.uint8).numpy().tofile(a.out + ".codes.u8")
    (1.0 / scale).to(torch.float32).numpy().tofile(a.out + ".scale.f32")
    zero.to(torch.float32).numpy().tofile(a.out + ".zero.f32")


if __name__ == "__main__":
    main()
