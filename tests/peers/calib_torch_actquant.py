"""Peer for tests/calib/test_activation_quant.cpp: torch quantizes the last batch of a
dataset (DIR/manifest.json) per DIR/actconfigs.json: static (MinMaxObserver over the
other batches, quantize_per_tensor), dynamic per tensor (MinMaxObserver on the batch
itself) or per token (PerChannelMinMaxObserver on axis 0, quantize_per_channel). Writes
the int codes to DIR/act_<i>.i32 and prints the SQNR of torch's dequantized result."""
import json
import math
import sys
import warnings

import numpy as np
import torch
from torch.ao.quantization import observer as obs

warnings.simplefilter("ignore")
d = sys.argv[1]
manifest = json.load(open(f"{d}/manifest.json"))
configs = json.load(open(f"{d}/actconfigs.json"))
out = []
for i, c in enumerate(configs):
    xs = [torch.from_numpy(np.fromfile(f"{d}/{e['file']}", dtype=np.float32).reshape(e["shape"])) for e in manifest[c["dataset"]]]
    x = xs[-1]
    dtype = {"qint8": torch.qint8, "quint8": torch.quint8}[c["dtype"]]
    sym = c["symmetric"]
    if c["mode"] == "dynamic-token":
        o = obs.PerChannelMinMaxObserver(ch_axis=0, dtype=dtype,
                                         qscheme=torch.per_channel_symmetric if sym else torch.per_channel_affine)
        o(x)
        s, z = o.calculate_qparams()
        q = torch.quantize_per_channel(x, s, z, 0, dtype)
    else:
        o = obs.MinMaxObserver(dtype=dtype, qscheme=torch.per_tensor_symmetric if sym else torch.per_tensor_affine)
        for b in (xs[:-1] if c["mode"] == "static" else [x]):
            o(b)
        s, z = o.calculate_qparams()
        q = torch.quantize_per_tensor(x, float(s), int(z), dtype)
    q.int_repr().to(torch.int32).numpy().tofile(f"{d}/act_{i}.i32")
    err = (q.dequantize() - x).double()
    out.append(10 * math.log10(float((x.double() ** 2).sum()) / float((err**2).sum())))
print(json.dumps(out))
