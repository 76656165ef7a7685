"""Turns bench_quantize's google-benchmark JSON and peer_ggml_types.py's llama.cpp JSON lines
into the markdown tables of docs/benchmarks.md (GB/s of fp32 input)."""
import json
import sys

bench = json.load(open(sys.argv[1]))
rows = {}
for b in bench["benchmarks"]:
    op, rest = b["name"].split("/", 1)
    spec, thr = rest.split("/threads:")
    thr = int(thr.split("/")[0])
    r = rows.setdefault(spec, {})
    r[(op, thr)] = b["bytes_per_second"] / 1e9
    if "bpw" in b:
        r["bpw"] = b["bpw"]
ctx = bench["context"]
print(f"machine: {ctx.get('host_name', '?')}, {ctx['num_cpus']} CPUs @ {ctx['mhz_per_cpu']} MHz, "
      f"caches: " + ", ".join(f"L{c['level']} {c['size'] // 1024} KiB" for c in ctx.get("caches", []) if c["type"] != "Instruction"))
print()
print("| lowbit scheme | bpw | quantize 1T | quantize 2T | dequantize 1T | dequantize 2T |")
print("|---|---:|---:|---:|---:|---:|")
for spec, r in rows.items():
    print(f"| `{spec}` | {r.get('bpw', 0):.3f} | {r[('quantize', 1)]:.2f} | {r[('quantize', 2)]:.2f} | "
          f"{r[('dequantize', 1)]:.2f} | {r[('dequantize', 2)]:.2f} |")
print()
peer = {}
for line in open(sys.argv[2]):
    j = json.loads(line)
    if j["peer"] != "llama.cpp":
        continue
    peer.setdefault(j["type"], {})[j["threads"]] = j
print("| llama.cpp type (same run) | bpw | quantize 1T | quantize 2T | dequantize 1T | dequantize 2T |")
print("|---|---:|---:|---:|---:|---:|")
for t, r in peer.items():
    print(f"| `{t}` | {r[1]['bpw']:.3f} | {r[1]['quantize_GBps']:.2f} | {r[2]['quantize_GBps']:.2f} | "
          f"{r[1]['dequantize_GBps']:.2f} | {r[2]['dequantize_GBps']:.2f} |")
