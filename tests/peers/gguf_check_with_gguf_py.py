"""llama.cpp's own Python reader (the PyPI gguf package) on a GGUF file:
  tensors GGUF                 JSON list: name, type id, ne (ggml order), absolute byte
                               offset and size of each tensor's data, in file order
  dequant GGUF SAFETENSORS     decodes every tensor with gguf.quants.dequantize and
                               compares it bit for bit with the same-named tensor of
                               SAFETENSORS (lowbit dequantize's output); prints JSON
                               {"tensors": n, "mismatched": [names]}"""
import json
import sys

import numpy as np
import gguf
from gguf import quants
from safetensors.numpy import safe_open


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    r = gguf.GGUFReader(path)
    if cmd == "tensors":
        out = [{"name": t.name, "type": int(t.tensor_type), "ne": [int(v) for v in t.shape],
                "offset": int(t.data_offset), "nbytes": int(t.n_bytes)} for t in r.tensors]
        print(json.dumps(out))
    elif cmd == "dequant":
        bad = []
        with safe_open(sys.argv[3], framework="np") as st:
            for t in r.tensors:
                want = quants.dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32).reshape(-1)
                got = st.get_tensor(t.name).astype(np.float32).reshape(-1)
                if want.shape != got.shape or not np.array_equal(want.view(np.uint32), got.view(np.uint32)):
                    bad.append(t.name)
        print(json.dumps({"tensors": len(r.tensors), "mismatched": bad}))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
