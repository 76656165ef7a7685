"""AutoAWQ (PyPI autoawq 0.2.9) as the peer of lowbit's AWQ: the methods of its
AwqQuantizer that do the arithmetic (pseudo_quantize_tensor, _search_best_scale,
_compute_best_scale, _compute_loss, _compute_best_clip, ...) are taken from the installed
awq/quantize/quantizer.py by name and run on torch's CPU. The package itself is not
imported: its __init__ pulls transformers model code and CUDA kernels this peer never uses.

  quant --w W.f32 --rows R --cols C --bits B --group G [--sym] --out P
        -> P.q.f32 (dequantized), P.scale.f32, P.zero.f32 ([R, C/G]; zeros absent if --sym)
  scale --x X.f32 --n N --cols C --ff F --gate W --up W --down W --bits B --group G [--sym]
        [--no-duo] --out P   (module = SwiGLU MLP, layers = gate, up)
        -> P.scales.f32 ([C], the chosen scales)
  clip  --w W.f32 --x X.f32 --n N --rows R --cols C --bits B --group G [--sym] --out P
        -> P.max.f32 ([R, C/G])
"""
import argparse
import ast
import importlib.util
import os
import sys
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn

METHODS = ("pseudo_quantize_tensor", "_search_best_scale", "_compute_best_scale", "_compute_loss",
           "_compute_best_clip", "_module_forward", "_sanitize_kwargs")


def awq_dir():
    spec = importlib.util.find_spec("awq")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("autoawq is not installed in this Python (scripts/install-deps.sh installs it in .venv-torch)")
    return list(spec.submodule_search_locations)[0]


def load_quantizer(bits, group, zero_point, duo):
    root = awq_dir()
    src = open(os.path.join(root, "quantize", "quantizer.py")).read()
    # _compute_best_scale saves the module's state as {k: v.cpu()} and scales the weights
    # in place. On the GPU .cpu() copies; on a CPU-only torch it returns the same tensor,
    # so the saved state would absorb every candidate's scales. Copy, as on the GPU.
    saved = "{k: v.cpu() for k, v in module2inspect.state_dict().items()}"
    if saved not in src:
        sys.exit("autoawq's _compute_best_scale no longer saves its state as expected; check the peer")
    src = src.replace(saved, "{k: v.cpu().clone() for k, v in module2inspect.state_dict().items()}")
    tree = ast.parse(src)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AwqQuantizer")
    funcs = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name in METHODS]
    missing = set(METHODS) - {f.name for f in funcs}
    if missing:
        sys.exit("autoawq's AwqQuantizer lacks " + ", ".join(sorted(missing)))
    ms = importlib.util.spec_from_file_location("awq_utils_module", os.path.join(root, "utils", "module.py"))
    mod = importlib.util.module_from_spec(ms)
    ms.loader.exec_module(mod)
    import inspect
    import logging
    ns = {"torch": torch, "nn": nn, "Dict": Dict, "List": List, "Optional": Optional, "inspect": inspect,
          "logging": logging, "get_op_name": mod.get_op_name, "clear_memory": lambda *a: None}
    code = compile(ast.Module(body=funcs, type_ignores=[]), "awq/quantize/quantizer.py", "exec")
    exec(code, ns)
    Q = type("AwqQuantizerMath", (), {name: ns[name] for name in METHODS})
    q = Q()
    q.w_bit, q.group_size, q.zero_point, q.duo_scaling = bits, group, zero_point, duo
    q.max_chunk_memory = 1024 * 1024 * 1024
    q.n_parallel_calib_samples = None
    return q


def read(path, *shape):
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(*shape).copy())


class SwiGluMlp(nn.Module):
    def __init__(self, cols, ff):
        super().__init__()
        self.gate_proj = nn.Linear(cols, ff, bias=False)
        self.up_proj = nn.Linear(cols, ff, bias=False)
        self.down_proj = nn.Linear(ff, cols, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["quant", "scale", "clip"])
    for k in ("--w", "--x", "--gate", "--up", "--down", "--out"):
        ap.add_argument(k)
    for k in ("--rows", "--cols", "--n", "--ff", "--bits", "--group"):
        ap.add_argument(k, type=int)
    ap.add_argument("--sym", action="store_true")
    ap.add_argument("--no-duo", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    q = load_quantizer(a.bits, a.group, not a.sym, not a.no_duo)
    with torch.no_grad():
        if a.mode == "quant":
            w, scales, zeros = q.pseudo_quantize_tensor(read(a.w, a.rows, a.cols))
            w.numpy().tofile(a.out + ".q.f32")
            scales.numpy().astype(np.float32).tofile(a.out + ".scale.f32")
            if zeros is not None:
                zeros.numpy().astype(np.float32).tofile(a.out + ".zero.f32")
        elif a.mode == "scale":
            mlp = SwiGluMlp(a.cols, a.ff)
            mlp.gate_proj.weight.data = read(a.gate, a.ff, a.cols)
            mlp.up_proj.weight.data = read(a.up, a.ff, a.cols)
            mlp.down_proj.weight.data = read(a.down, a.cols, a.ff)
            x = read(a.x, a.n, a.cols)
            _, _, best = q._search_best_scale(mlp, mlp.gate_proj, [mlp.gate_proj, mlp.up_proj], x, mlp, {})
            best.numpy().astype(np.float32).tofile(a.out + ".scales.f32")
        else:
            best = q._compute_best_clip(read(a.w, a.rows, a.cols), read(a.x, a.n, a.cols))
            best.reshape(a.rows, -1).numpy().astype(np.float32).tofile(a.out + ".max.f32")


if __name__ == "__main__":
    main()
