"""AutoGPTQ (PyPI auto-gptq 0.7.1, its GPTQ.fasterquant and Quantizer on torch's CPU) as
the peer of lowbit's GPTQ. Only the algorithm modules are loaded
(auto_gptq/quantization/{quantizer,gptq}.py), not the package's CUDA model code; the
reference calls torch.cuda.synchronize() after quantizing, which is a no-op here.

  --w W.f32 --h H.f32 --rows R --cols C --bits B --group G [--sym] [--act-order]
  [--static-groups] [--mse] [--rtn] --out PREFIX   -> PREFIX.q.f32 (dequantized [R, C]), PREFIX.scale.f32,
                                      PREFIX.zero.f32 ([R, groups]), PREFIX.g_idx.i32 ([C])
--mse configures the Quantizer's MSE-clipped grid search (norm 2.4, grid 100, maxshrink
0.8); --rtn skips fasterquant and rounds each group on the Quantizer's grid (RTN).
"""
import argparse
import importlib.util
import os
import sys
import types

import numpy as np
import torch


def load_autogptq_quantization():
    spec = importlib.util.find_spec("auto_gptq")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("auto-gptq is not installed in this Python (scripts/install-deps.sh installs it in .venv-torch)")
    qdir = os.path.join(list(spec.submodule_search_locations)[0], "quantization")
    pkg = types.ModuleType("autogptq_quantization")
    pkg.__path__ = [qdir]
    sys.modules["autogptq_quantization"] = pkg
    for name in ("quantizer", "gptq"):
        s = importlib.util.spec_from_file_location("autogptq_quantization." + name, os.path.join(qdir, name + ".py"))
        m = importlib.util.module_from_spec(s)
        sys.modules[s.name] = m
        s.loader.exec_module(m)
    return sys.modules["autogptq_quantization.gptq"].GPTQ


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--w", required=True)
    ap.add_argument("--h", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--bits", type=int, required=True)
    ap.add_argument("--group", type=int, required=True)
    ap.add_argument("--sym", action="store_true")
    ap.add_argument("--act-order", action="store_true")
    ap.add_argument("--static-groups", action="store_true")
    ap.add_argument("--mse", action="store_true")
    ap.add_argument("--rtn", action="store_true")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    GPTQ = load_autogptq_quantization()
    torch.cuda.synchronize = lambda *args, **kw: None
    torch.set_num_threads(2)
    w = np.fromfile(a.w, dtype=np.float32).reshape(a.rows, a.cols)
    h = np.fromfile(a.h, dtype=np.float32).reshape(a.cols, a.cols)
    layer = torch.nn.Linear(a.cols, a.rows, bias=False)
    layer.weight.data = torch.from_numpy(w.copy())
    g = GPTQ(layer)
    g.H = torch.from_numpy(h.copy())
    g.nsamples = 1
    g.quantizer.configure(a.bits, perchannel=True, sym=a.sym, mse=a.mse)
    if a.rtn:
        wt = layer.weight.data.clone()
        gs = a.group if a.group > 0 else a.cols
        scales, zeros = [], []
        for c0 in range(0, a.cols, gs):
            g.quantizer.find_params(wt[:, c0:c0 + gs], weight=True)
            wt[:, c0:c0 + gs] = g.quantizer.quantize(wt[:, c0:c0 + gs])
            scales.append(g.quantizer.scale)
            zeros.append(g.quantizer.zero)
        layer.weight.data = wt
        scale, zero = torch.cat(scales, dim=1), torch.cat(zeros, dim=1)
        g_idx = torch.arange(a.cols, dtype=torch.int32) // gs
    else:
        scale, zero, g_idx = g.fasterquant(blocksize=128, percdamp=0.01, group_size=a.group,
                                           actorder=a.act_order, static_groups=a.static_groups)
    layer.weight.data.numpy().astype(np.float32).tofile(a.out + ".q.f32")
    scale.numpy().astype(np.float32).tofile(a.out + ".scale.f32")
    zero.numpy().astype(np.float32).tofile(a.out + ".zero.f32")
    g_idx.numpy().astype(np.int32).tofile(a.out + ".g_idx.i32")


if __name__ == "__main__":
    main()
