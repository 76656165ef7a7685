"""Peer for tests/calib/test_observer_ort_peer.cpp: ONNX Runtime's calibrators
(onnxruntime.quantization.calibrate.create_calibrator) on a one-node model (X -> Identity)
consume the batches of DIR/manifest.json, one collect_data call per batch (ORT's
streaming path), for each config in DIR/configs.json; prints the ranges of X as JSON,
with the final histogram's first bin width where the method has one."""
import contextlib
import io
import json
import os
import sys
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper
import onnxruntime.quantization.calibrate as ort_calibrate
from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, create_calibrator

warnings.simplefilter("ignore")
d = sys.argv[1]
manifest = json.load(open(f"{d}/manifest.json"))
configs = json.load(open(f"{d}/configs.json"))


class Batches(CalibrationDataReader):
    def __init__(self, xs):
        self.items = [{"X": x} for x in reversed(xs)]

    def get_next(self):
        return self.items.pop() if self.items else None


def model_path(rank):
    p = f"{d}/identity_{rank}.onnx"
    if not os.path.exists(p):
        dims = [f"d{i}" for i in range(rank)]
        g = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, dims)])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), p)
    return p


# ORT's entropy search calls these module globals once per candidate threshold
# (smooth p, smooth q, then KL unless one is None). Recording them yields ORT's own KL
# curve, so the test can judge a threshold by ORT's arithmetic where the curve is flat.
kl_log = []
_smooth, _entropy = ort_calibrate.smooth_distribution, ort_calibrate.entropy


def smooth_recorded(p, *a, **k):
    r = _smooth(p, *a, **k)
    kl_log.append(("smooth", r is None))
    return r


def entropy_recorded(p, q, *a, **k):
    r = _entropy(p, q, *a, **k)
    kl_log.append(("kl", float(r)))
    return r


ort_calibrate.smooth_distribution = smooth_recorded
ort_calibrate.entropy = entropy_recorded


def kl_curve():
    curve, i = [], 0
    while i < len(kl_log):
        none_p = kl_log[i][1]
        none_q = kl_log[i + 1][1]
        i += 2
        if none_p or none_q:
            curve.append(float("inf"))
        else:
            curve.append(kl_log[i][1])
            i += 1
    return curve


methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
           "entropy": CalibrationMethod.Entropy, "distribution": CalibrationMethod.Distribution}
results = []
for i, c in enumerate(configs):
    batches = [np.fromfile(f"{d}/{e['file']}", dtype=np.float32).reshape(e["shape"]) for e in manifest[c["dataset"]]]
    cal = create_calibrator(model_path(batches[0].ndim), ["Identity"], augmented_model_path=f"{d}/aug_{i}.onnx",
                            calibrate_method=methods[c["method"]], extra_options=c.get("options", {}))
    kl_log.clear()
    with contextlib.redirect_stdout(io.StringIO()):  # ORT prints progress
        if c.get("options", {}).get("per_channel"):
            # ORT's merge_range cannot merge per-channel ranges across collect_data
            # calls (ValueError on array truth value): feed every batch in one call.
            cal.collect_data(Batches(batches))
        else:
            for x in batches:
                cal.collect_data(Batches([x]))
        td = cal.compute_data()["X"]
    lo, hi = (np.asarray(v, dtype=np.float32).reshape(-1) for v in td.range_value)
    r = {"lowest": [float(v) for v in lo], "highest": [float(v) for v in hi]}
    # The final histogram's edges, from the collector itself: the TensorData of
    # Percentile carries hist[:2] (two counts) where edges were meant.
    collector = getattr(cal, "collector", None)
    if collector is not None:
        edges = collector.histogram_dict["X"][1]
        r["bin_width"] = float(edges[1] - edges[0])
        r["bins"] = int(len(edges) - 1)
        if c["method"] == "entropy":
            # Candidate k spans edges[zero - i] .. edges[min(zero + i + 1, n)], i = half + k.
            n, half = len(edges) - 1, c.get("options", {}).get("num_quantized_bins", 128) // 2
            kl = kl_curve()
            r["candidates"] = [[float(edges[n // 2 - (half + k)]), float(edges[min(n // 2 + half + k + 1, n)]),
                                v if np.isfinite(v) else 1e300] for k, v in enumerate(kl)]
    results.append(r)
    os.remove(f"{d}/aug_{i}.onnx")
print(json.dumps(results))
