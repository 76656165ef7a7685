"""Joins bench_ggml_types' google-benchmark JSON with peer_ggml_types.py's JSON lines into
the ggml-type throughput table of docs/benchmarks.md (GB/s of fp32; ratio = lowbit's best
path over llama.cpp's, same thread count)."""
import json
import sys

bench = json.load(open(sys.argv[1]))
low = {}
for b in bench["benchmarks"]:
    op, typ, mode = b["name"].split("/")[0], b["name"].split("/")[1], int(b["name"].split("mode:")[1].split("/")[0])
    low[(op, typ.lower(), mode)] = b["bytes_per_second"] / 1e9
peer = {}
for line in open(sys.argv[2]):
    j = json.loads(line)
    peer[(j["peer"], j["type"].lower(), j["threads"])] = j


def f(v):
    return "—" if v is None else f"{v:.2f}"


types = []
for (op, typ, mode) in low:
    if typ not in types:
        types.append(typ)
for op in ("quantize", "dequantize"):
    print(f"**{op}** (GB/s of fp32)\n")
    print("| type | lowbit ref 1T | lowbit 1T | lowbit 2T | llama.cpp 1T | llama.cpp 2T | gguf-py 1T | lowbit/llama.cpp 1T | 2T |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in types:
        l1, l2 = peer.get(("llama.cpp", t, 1), {}), peer.get(("llama.cpp", t, 2), {})
        g = peer.get(("gguf-py", t, 1), {})
        p1, p2 = l1.get(f"{op}_GBps"), l2.get(f"{op}_GBps")
        r1 = low[(op, t, 1)] / p1 if p1 else None
        r2 = low[(op, t, 2)] / p2 if p2 else None
        print(f"| {t} | {f(low[(op, t, 0)])} | {f(low[(op, t, 1)])} | {f(low[(op, t, 2)])} | {f(p1)} | {f(p2)} | "
              f"{f(g.get(f'{op}_GBps'))} | {f(r1)}x | {f(r2)}x |")
    print()
