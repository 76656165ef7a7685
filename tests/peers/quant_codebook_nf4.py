"""Peer for tests/quant/test_codebook.cpp: recomputes the NF4 table of QLoRA (Dettmers et
al. 2023, appendix E) the way bitsandbytes' create_normal_map(offset=0.9677083,
use_extra_value=True) does, with scipy.stats.norm.ppf, and prints the 16 distinct values
ascending, one per line as "value tolerance".

bitsandbytes builds the probability grid with torch.linspace in float32; that is
emulated here with torch's scalar formula (start + step*i for the first half, end -
step*(steps-1-i) for the second). torch's vectorised path may differ by one float32 ulp
in a probability, so each value's tolerance is the derived effect of a one-ulp change of
its own probability and of the normalising one (|dppf/dp| = 1/pdf(ppf(p))), plus two
float32 ulps of the value for the final fp32 division and storage."""
import numpy as np
from scipy.stats import norm

f32 = np.float32


def torch_linspace_f32(start, end, steps):
    start, end = f32(start), f32(end)
    step = f32((end - start) / f32(steps - 1))
    half = steps // 2
    return np.array([start + step * f32(i) if i < half else end - step * f32(steps - 1 - i)
                     for i in range(steps)], dtype=np.float32)


offset = 0.9677083
p_pos = torch_linspace_f32(offset, 0.5, 9)[:-1]   # 8 positive values (the extra one)
p_neg = torch_linspace_f32(offset, 0.5, 8)[:-1]   # 7 negative values
v1 = norm.ppf(p_pos).tolist()
v2 = [0.0] * (256 - 15)
v3 = (-norm.ppf(p_neg)).tolist()
values = np.sort(np.array(v1 + v2 + v3, dtype=np.float32))
values = values / values.max()                   # float32 / float32, as torch does
assert values.dtype == np.float32 and values.size == 256
table = np.unique(values)
assert table.size == 16, table

# Tolerance: map each table value back to its probability, then propagate one ulp.
zmax = float(norm.ppf(np.float64(p_pos[0])))
dz_max = float(np.spacing(p_pos[0])) / norm.pdf(zmax)
for v in table:
    v = float(v)
    if v == 0.0:
        tol = 0.0
    else:
        z = abs(v) * zmax
        p = norm.cdf(z)
        dz = float(np.spacing(np.float32(p))) / norm.pdf(z)
        tol = dz / zmax + abs(v) * dz_max / zmax + 2 * float(np.spacing(np.float32(abs(v))))
    print(repr(v), repr(float(tol)))
