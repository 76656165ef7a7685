"""torch.ao HistogramObserver / MinMaxObserver timing on the shape bench_observer.cpp
uses (4096 x 4096 fp32, Student-t), one thread, same run: prints JSON lines
{"name", "ms"} (median of several repetitions) for the first batch, a wider second
batch, and calculate_qparams (the L2 search)."""
import json
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from torch.ao.quantization import observer as obs

warnings.simplefilter("ignore")
torch.set_num_threads(1)
rng = np.random.default_rng(1)
a = torch.from_numpy(rng.standard_t(4, size=(4096, 4096)).astype(np.float32))
b = a * 1.5
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def timed(make, first=None, second=None, qparams=False):
    ts = []
    for _ in range(reps):
        o = make()
        if first is not None and second is not None:
            o(first)
            x = second
        else:
            x = first
        t0 = time.perf_counter()
        if qparams:
            o.calculate_qparams()
        else:
            o(x)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


print(json.dumps({"name": "minmax_first", "ms": timed(obs.MinMaxObserver, a)}))
print(json.dumps({"name": "hist_l2_first", "ms": timed(obs.HistogramObserver, a)}))
print(json.dumps({"name": "hist_l2_merge", "ms": timed(obs.HistogramObserver, a, b)}))


def observed():
    o = obs.HistogramObserver()
    o(a)
    o(b)
    return o


ts = []
for _ in range(reps):
    o = observed()
    t0 = time.perf_counter()
    o.calculate_qparams()
    ts.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"name": "hist_l2_search", "ms": statistics.median(ts)}))
