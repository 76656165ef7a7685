"""Peer for tests/quant/test_metrics.cpp: numpy (float64) computes MSE, RMSE, max abs
error, SQNR and cosine of DIR/ref.f32 vs DIR/out.f32 and prints them one per line."""
import sys
import numpy as np

d = sys.argv[1]
x = np.fromfile(f"{d}/ref.f32", dtype=np.float32).astype(np.float64)
y = np.fromfile(f"{d}/out.f32", dtype=np.float32).astype(np.float64)
e = x - y
mse = np.mean(e * e)
print(repr(float(mse)))
print(repr(float(np.sqrt(mse))))
print(repr(float(np.max(np.abs(e)))))
print(repr(float(10 * np.log10(np.sum(x * x) / np.sum(e * e)))))
print(repr(float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))))
