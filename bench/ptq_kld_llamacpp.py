"""llama.cpp (llama-cpp-python) measures quantized GGUFs against a baseline GGUF the way
llama-perplexity --kl-divergence does: chunks of --ctx tokens of --text, BOS first, the
second half of each chunk scored; per scored position the KL divergence of the
quantized model's next-token distribution from the baseline's, whether the top-1 token
agrees, and the perplexity. Prints one JSON object: {name: {ppl, kld, kld_err, top1,
bytes, params, bpw}} (bpw over every tensor of the file, as llama.cpp prints it).

  ptq_kld_llamacpp.py --base BASE.gguf --text EVAL.txt [--ctx 512 --chunks 8] NAME=FILE.gguf ...
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "peers"))
import model_llamacpp as M  # noqa: E402
import llama_cpp as L  # noqa: E402
from gguf import GGUFReader  # noqa: E402


def log_softmax_rows(ctx, first, count, n_vocab):
    out = np.empty((count, n_vocab), dtype=np.float32)
    for i in range(count):
        row = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, first + i), shape=(n_vocab,)).astype(np.float64)
        mx = row.max()
        out[i] = (row - mx - math.log(np.exp(row - mx).sum())).astype(np.float32)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("models", nargs="+", help="NAME=FILE.gguf")
    a = ap.parse_args()
    _cb = M.quiet()

    model, ctx = M.load(a.base, a.ctx, a.threads, "off")
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    add_bos = L.llama_vocab_get_add_bos(vocab)
    bos = L.llama_vocab_bos(vocab)
    tokens = M.tokenize(model, open(a.text, encoding="utf-8").read(), True, False)
    n_chunk = min(len(tokens) // a.ctx, a.chunks)
    first = a.ctx // 2
    count = a.ctx - 1 - first
    chunks = []
    for c in range(n_chunk):
        chunk = list(tokens[c * a.ctx:(c + 1) * a.ctx])
        if add_bos:
            chunk[0] = bos
        chunks.append(chunk)
    base = []
    for chunk in chunks:
        M.decode(ctx, chunk, lambda i: i >= first)
        base.append(log_softmax_rows(ctx, first, count, n_vocab))
    L.llama_free(ctx)
    L.llama_model_free(model)

    results = {}
    for spec in a.models:
        name, path = spec.split("=", 1)
        model, ctx = M.load(path, a.ctx, a.threads, "off")
        klds, same, nll = [], 0, 0.0
        for c, chunk in enumerate(chunks):
            M.decode(ctx, chunk, lambda i: i >= first)
            q = log_softmax_rows(ctx, first, count, n_vocab)
            b = base[c]
            kl = np.sum(np.exp(b.astype(np.float64)) * (b.astype(np.float64) - q.astype(np.float64)), axis=1)
            klds.extend(kl.tolist())
            same += int(np.sum(np.argmax(b, axis=1) == np.argmax(q, axis=1)))
            nxt = np.array(tokens[c * a.ctx + first + 1:c * a.ctx + first + 1 + count])
            nll -= float(np.sum(q[np.arange(count), nxt]))
        L.llama_free(ctx)
        L.llama_model_free(model)
        r = GGUFReader(path)
        nbytes = sum(int(t.n_bytes) for t in r.tensors)
        params = sum(int(t.n_elements) for t in r.tensors)
        k = np.array(klds)
        results[name] = {"ppl": math.exp(nll / len(klds)), "kld": float(k.mean()),
                         "kld_err": float(k.std(ddof=1) / math.sqrt(len(k))), "top1": same / len(klds),
                         "bytes": nbytes, "params": params, "bpw": 8.0 * nbytes / params, "file": path}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
