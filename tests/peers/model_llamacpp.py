"""llama.cpp (llama-cpp-python's libllama) as the peer of lowbit's decoder runtime and
evaluation: tokenize with llama.cpp's tokenizer, decode token sequences and dump every
position's logits, and compute perplexity exactly the way tools/perplexity/perplexity.cpp
does (chunks of n_ctx tokens, BOS in place of the first token when the vocab adds one,
only the second half of each chunk scored). Attention runs without flash attention
unless --flash-attn on, so both sides use the same fp16 rounding points.

  tokenize   --model M --text F [--add-special] [--parse-special]   -> JSON ids
  logits     --model M --ids F.json --out F.f32                     -> raw float32 logits
  perplexity --model M --text F --ctx N [--chunks K]                -> JSON result
  generate   --model M --ids F.json --tokens N [--out F.f32]            -> JSON greedy run
             (the prompt in one batch, then one token per llama_decode through the KV
             cache: generated ids, prompt and generation seconds, every step's logits)
"""
import argparse
import ctypes
import json
import math
import sys
import time

import numpy as np
import llama_cpp as L


def quiet():
    cb = L.llama_log_callback(lambda level, text, user: None)
    L.llama_log_set(cb, ctypes.c_void_p())
    return cb


def load(model_path, n_ctx, threads, flash_attn):
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(model_path.encode(), mp)
    if not model:
        sys.exit("llama.cpp could not load " + model_path)
    cp = L.llama_context_default_params()
    cp.n_ctx = n_ctx
    cp.n_batch = n_ctx
    cp.n_ubatch = n_ctx
    cp.n_threads = threads
    cp.n_threads_batch = threads
    cp.flash_attn_type = {"off": 0, "on": 1, "auto": -1}[flash_attn]
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        sys.exit("llama.cpp could not create a context")
    return model, ctx


def tokenize(model, text, add_special, parse_special):
    vocab = L.llama_model_get_vocab(model)
    data = text.encode("utf-8")
    cap = len(data) + 16
    buf = (L.llama_token * cap)()
    n = L.llama_tokenize(vocab, data, len(data), buf, cap, add_special, parse_special)
    if n < 0:
        cap = -n
        buf = (L.llama_token * cap)()
        n = L.llama_tokenize(vocab, data, len(data), buf, cap, add_special, parse_special)
    return list(buf[:n])


def decode(ctx, tokens, want):
    """Decodes one sequence from position 0; returns logits rows for positions in want."""
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    n = len(tokens)
    batch = L.llama_batch_init(n, 0, 1)
    for i, t in enumerate(tokens):
        batch.token[i] = t
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = 1 if want(i) else 0
    batch.n_tokens = n
    if L.llama_decode(ctx, batch) != 0:
        sys.exit("llama_decode failed")
    L.llama_batch_free(batch)


def generate(ctx, n_vocab, prompt, n_gen, out):
    """Greedy decoding as llama-cli / llama-bench tg run it: the prompt in one batch, then
    each argmax token decoded alone at the next position."""
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    batch = L.llama_batch_init(max(len(prompt), 1), 0, 1)

    def step(tokens, pos0):
        for i, t in enumerate(tokens):
            batch.token[i] = t
            batch.pos[i] = pos0 + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1 if i == len(tokens) - 1 else 0
        batch.n_tokens = len(tokens)
        if L.llama_decode(ctx, batch) != 0:
            sys.exit("llama_decode failed")
        return np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, len(tokens) - 1), shape=(n_vocab,)).astype(np.float32)

    rows = []
    t0 = time.perf_counter()
    rows.append(step(prompt, 0))
    prompt_secs = time.perf_counter() - t0
    ids = []
    t0 = time.perf_counter()
    for g in range(n_gen):
        ids.append(int(np.argmax(rows[-1])))
        if g + 1 < n_gen:
            rows.append(step([ids[-1]], len(prompt) + g))
    gen_secs = time.perf_counter() - t0
    L.llama_batch_free(batch)
    if out:
        with open(out, "wb") as f:
            for r in rows:
                f.write(r.tobytes())
    # n_gen tokens chosen, n_gen - 1 of them decoded (the last one's logits are not needed)
    return {"prompt_tokens": len(prompt), "generated": ids, "prompt_seconds": prompt_secs,
            "generation_seconds": gen_secs, "decoded": n_gen - 1}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["tokenize", "logits", "perplexity", "generate"])
    ap.add_argument("--tokens", type=int, default=32, help="generate: greedy tokens to produce")
    ap.add_argument("--model", required=True)
    ap.add_argument("--text")
    ap.add_argument("--austen", help="tokenize this Austen novel's lines joined by newlines instead of --text")
    ap.add_argument("--seqs", type=int, default=0, help="tokenize: cut the ids into this many sequences of --ctx")
    ap.add_argument("--ids")
    ap.add_argument("--out")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=-1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flash-attn", default="off", choices=["off", "on", "auto"])
    ap.add_argument("--add-special", action="store_true")
    ap.add_argument("--parse-special", action="store_true")
    a = ap.parse_args()
    _cb = quiet()

    if a.mode == "tokenize":
        model, _ = load(a.model, 64, a.threads, a.flash_attn)
        if a.austen:
            sys.path.insert(0, __file__.rsplit("/", 1)[0])
            import austen_text
            text = "\n".join(austen_text.novel(a.austen))
        else:
            text = open(a.text, encoding="utf-8").read()
        ids = tokenize(model, text, a.add_special, a.parse_special)
        if a.seqs:
            ids = [ids[i * a.ctx:(i + 1) * a.ctx] for i in range(a.seqs)]
        print(json.dumps(ids))
        return

    if a.mode == "logits":
        seqs = json.load(open(a.ids))
        n_ctx = max(len(s) for s in seqs)
        model, ctx = load(a.model, n_ctx, a.threads, a.flash_attn)
        n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
        with open(a.out, "wb") as f:
            for s in seqs:
                decode(ctx, s, lambda i: True)
                ptr = L.llama_get_logits(ctx)
                arr = np.ctypeslib.as_array(ptr, shape=(len(s) * n_vocab,)).astype(np.float32)
                f.write(arr.tobytes())
        return

    if a.mode == "generate":
        prompt = json.load(open(a.ids))
        model, ctx = load(a.model, len(prompt) + a.tokens, a.threads, a.flash_attn)
        n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
        print(json.dumps(generate(ctx, n_vocab, prompt, a.tokens, a.out)))
        return

    # perplexity, as tools/perplexity/perplexity.cpp computes it
    model, ctx = load(a.model, a.ctx, a.threads, a.flash_attn)
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    add_bos = L.llama_vocab_get_add_bos(vocab)
    tokens = tokenize(model, open(a.text, encoding="utf-8").read(), True, False)
    n_ctx = a.ctx
    if len(tokens) < 2 * n_ctx:
        sys.exit(f"need at least {2 * n_ctx} tokens, the text has {len(tokens)}")
    n_chunk = len(tokens) // n_ctx
    if a.chunks >= 0:
        n_chunk = min(n_chunk, a.chunks)
    first = n_ctx // 2
    nll, count, per_chunk = 0.0, 0, []
    t0 = time.perf_counter()
    decode_secs = 0.0
    for c in range(n_chunk):
        chunk = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        if add_bos:
            chunk[0] = L.llama_vocab_bos(vocab)
        td = time.perf_counter()
        decode(ctx, chunk, lambda i: i >= first)
        decode_secs += time.perf_counter() - td
        for i in range(n_ctx - 1 - first):
            row = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, first + i), shape=(n_vocab,)).astype(np.float32)
            mx = row.max()
            s = float(np.sum(np.exp((row - mx).astype(np.float64))))
            tok = tokens[c * n_ctx + first + i + 1]
            nll += float(mx) + math.log(s) - float(row[tok])
            count += 1
        per_chunk.append(math.exp(nll / count))
    secs = time.perf_counter() - t0
    print(json.dumps({"ppl": math.exp(nll / count), "chunks": n_chunk, "ctx": n_ctx, "scored": count,
                      "tokens": len(tokens), "running_ppl": per_chunk, "seconds": secs, "decode_seconds": decode_secs,
                      "n_vocab": n_vocab, "add_bos": bool(add_bos)}))


if __name__ == "__main__":
    main()
