"""Peer for tests/calib/test_observer_torch_peer.cpp: torch.ao's observers (Debian's
python3-torch, run under /usr/bin/python3) consume the batches of DIR/manifest.json for
each config in DIR/configs.json and print their qparams as JSON (scales as fp32 bit
patterns); HistogramObserver also reports the searched [min, max] and its bin width."""
import json
import struct
import sys
import warnings

import numpy as np
import torch
from torch.ao.quantization import observer as obs

warnings.simplefilter("ignore")  # reduce_range deprecation notes would pollute the JSON
d = sys.argv[1]
manifest = json.load(open(f"{d}/manifest.json"))
configs = json.load(open(f"{d}/configs.json"))


def batches(name):
    for e in manifest[name]:
        yield torch.from_numpy(np.fromfile(f"{d}/{e['file']}", dtype=np.float32).reshape(e["shape"]))


results = []
for c in configs:
    dtype = {"qint8": torch.qint8, "quint8": torch.quint8}[c["dtype"]]
    per_channel = c.get("axis", -1) >= 0
    sym = c["symmetric"]
    if per_channel:
        qscheme = torch.per_channel_symmetric if sym else torch.per_channel_affine
    else:
        qscheme = torch.per_tensor_symmetric if sym else torch.per_tensor_affine
    kw = dict(dtype=dtype, qscheme=qscheme, reduce_range=c.get("reduce_range", False))
    if "quant_min" in c:
        kw.update(quant_min=c["quant_min"], quant_max=c["quant_max"])
    kind = c["observer"]
    if kind == "minmax":
        o = obs.PerChannelMinMaxObserver(ch_axis=c["axis"], **kw) if per_channel else obs.MinMaxObserver(**kw)
    elif kind == "ma":
        k = dict(averaging_constant=c["averaging_constant"], **kw)
        o = obs.MovingAveragePerChannelMinMaxObserver(ch_axis=c["axis"], **k) if per_channel else obs.MovingAverageMinMaxObserver(**k)
    elif kind == "hist":
        o = obs.HistogramObserver(bins=c.get("bins", 2048), **kw)
    else:
        raise SystemExit("unknown observer " + kind)
    for x in batches(c["dataset"]):
        o(x)
    scale, zp = o.calculate_qparams()
    r = {"scale_bits": [struct.unpack("<I", struct.pack("<f", float(s)))[0] for s in scale.reshape(-1).tolist()],
         "zero_point": [int(z) for z in zp.reshape(-1).tolist()]}
    if kind == "hist":
        lo, hi = o._non_linear_param_search()
        r.update(min=float(lo), max=float(hi), bin_width=(float(o.max_val) - float(o.min_val)) / o.bins)
    results.append(r)
print(json.dumps(results))
