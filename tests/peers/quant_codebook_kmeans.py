"""Peer for tests/quant/test_kmeans_1d.cpp: scikit-learn's KMeans (k-means++ init,
n_init=10, Lloyd; Arthur & Vassilvitskii 2007, Lloyd 1982) on the slices the C++ test
wrote. DIR/cases.txt lists "name k" lines; DIR/name.x.f32 and DIR/name.w.f32 hold the
values and weights. Prints "name sse" per case: the weighted SSE of sklearn's centroids,
recomputed here in float64 with nearest assignment (ties to the lower centroid)."""
import sys
import numpy as np
from sklearn.cluster import KMeans

d = sys.argv[1]
with open(f"{d}/cases.txt") as f:
    cases = [line.split() for line in f if line.strip()]
for name, k in cases:
    x = np.fromfile(f"{d}/{name}.x.f32", dtype=np.float32).astype(np.float64)
    w = np.fromfile(f"{d}/{name}.w.f32", dtype=np.float32).astype(np.float64)
    km = KMeans(n_clusters=int(k), n_init=10, random_state=0)
    km.fit(x.reshape(-1, 1), sample_weight=w)
    c = np.sort(km.cluster_centers_.ravel())
    dist = (x[:, None] - c[None, :]) ** 2
    sse = float(np.sum(w * dist.min(axis=1)))
    print(name, repr(sse))
