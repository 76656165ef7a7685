"""SentencePiece-style tokenizers' ids for tests/model/test_tokenizer_spm_peer.cpp.
  austen OUT --lines N --paragraphs P
      writes evaluation texts as JSON lines (one JSON string each): N non-empty lines of
      Persuasion then Emma, and P paragraphs (runs of lines joined by newlines).
  gguf MODEL TEXTS OUT
      llama.cpp (llama-cpp-python, vocab only) tokenizes TEXTS in four modes.
  hf DIR TEXTS OUT
      trains a Llama-2-style BPE (byte fallback, "▁" for spaces) on Sense and Sensibility
      with the `tokenizers` library, writes it as several tokenizer.json variants in DIR,
      and tokenizes TEXTS with each in four modes.
OUT gets, per (tokenizer, mode), a header {"file", "add_special", "parse_special"} then
one JSON line per text: {"ids": [...]} (plus "text": the peer's decoding of those ids in
the mode add_special = parse_special = true). Files, not stdout: the C++ side reads a
pipe that also carries stderr."""
import ctypes
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

MODES = [(True, True), (True, False), (False, True), (False, False)]
SPACE = "\u2581"


def read_texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def cmd_austen(out, n_lines, n_paragraphs):
    import austen_text

    lines, paragraphs = [], []
    for novel in ("persuasion", "emma"):
        raw = austen_text.novel(novel)
        lines += [l for l in raw if l.strip()]
        # Paragraphs keep the novel's own line breaks (and a blank line between two).
        cur = []
        for l in raw:
            if l.strip():
                cur.append(l)
            elif cur:
                paragraphs.append("\n".join(cur))
                cur = []
    if len(lines) < n_lines:
        raise SystemExit(f"only {len(lines)} Austen lines, {n_lines} asked")
    paras = paragraphs[:n_paragraphs]
    paras = [p + ("\n\n" + paras[i + 1] if i % 7 == 0 and i + 1 < len(paras) else "") for i, p in enumerate(paras)]
    with open(out, "w", encoding="utf-8") as f:
        for t in lines[:n_lines] + paras:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    print(json.dumps({"lines": n_lines, "paragraphs": len(paras)}))


def cmd_gguf(model, texts_path, out):
    import llama_cpp

    noop = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(noop, ctypes.c_void_p())
    llm = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    texts = read_texts(texts_path)

    def detokenize(ids):
        # llama_detokenize(remove_special = false, unparse_special = true)
        arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
        size = 64 + 16 * len(ids)
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, size, False, True)
            if n >= 0:
                return buf.raw[:n].decode("utf-8", errors="replace")
            size = -n

    def tokenize(data, add, parse):
        # llama_tokenize itself: Llama.tokenize allocates a context-sized buffer per call.
        size = len(data) + 8
        while True:
            buf = (llama_cpp.llama_token * size)()
            n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, size, add, parse)
            if n >= 0:
                return list(buf[:n])
            size = -n

    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for add, parse in MODES:
            f.write(json.dumps({"file": model, "add_special": add, "parse_special": parse}) + "\n")
            for t in texts:
                ids = tokenize(t.encode("utf-8"), add, parse)
                assert ids == llm.tokenize(t.encode("utf-8"), add_bos=add, special=parse) if len(t) % 97 == 0 else True
                rec = {"ids": ids}
                if add and parse:
                    rec["text"] = detokenize(ids)
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += len(ids)
    print(json.dumps({"texts": len(texts), "tokens": n}))


def added(content, tid, special, normalized, lstrip=False, rstrip=False, single_word=False):
    return {"id": tid, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def train_base():
    """A BPE over Sense and Sensibility, words kept apart by a Metaspace pre-tokenizer as
    SentencePiece keeps them, laid out like Llama-2's: <unk> <s> </s>, 256 byte tokens,
    then the learned pieces."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    import austen_text

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPACE, prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=8000 - 256, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok.train_from_iterator([l for l in austen_text.novel("sensesensibility") if l.strip()], trainer)
    base = json.loads(tok.to_str())
    learned = sorted(base["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab = {}
    for piece in ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + [p for p, _ in learned]:
        if piece not in vocab:
            vocab[piece] = len(vocab)
    return vocab, base["model"]["merges"]


def added_tokens_for(vocab):
    """Special and non-special, raw and normalized, lstrip/rstrip added tokens, numbered
    as tokenizers numbers them: a piece keeps its id, the rest follow the vocabulary."""
    ids, nxt = {}, len(vocab)
    for c in ["<|im_start|>", "<|im_end|>", "[INST]", "[/INST]", "Emma", "Anne"]:
        if c in vocab:
            ids[c] = vocab[c]
        else:
            ids[c], nxt = nxt, nxt + 1
    return [added("<unk>", 0, True, False), added("<s>", 1, True, False), added("</s>", 2, True, False),
            added("<|im_start|>", ids["<|im_start|>"], True, False),
            added("<|im_end|>", ids["<|im_end|>"], True, False, rstrip=True),
            added("[INST]", ids["[INST]"], False, False, rstrip=True),
            added("[/INST]", ids["[/INST]"], False, False, lstrip=True),
            # normalized: matched after the normalizer, i.e. as "▁Emma" in the Llama-2 form
            added("Emma", ids["Emma"], False, True),
            # single_word: not inside "Annette" or "Annexe", but in "Anne's" and "(Anne)"
            added("Anne", ids["Anne"], False, False, single_word=True)]


def variants(vocab, merges):
    """(name, tokenizer.json) pairs covering the Llama-2 normalizer form and the newer
    Metaspace pre-tokenizer form, unk fusing, ignore_merges and added tokens of each kind."""
    # Whole words of the evaluation novels that no merge builds: only ignore_merges finds them.
    whole = dict(vocab)
    for w in ["Wentworth", "Kellynch", "Woodhouse", "Highbury", "Knightley", "Musgrove", "Elliot", "Churchill"]:
        whole.setdefault(SPACE + w, len(whole))

    def model(byte_fallback=True, fuse_unk=True, ignore_merges=False, legacy_merges=False, v=vocab):
        return {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": fuse_unk, "byte_fallback": byte_fallback,
                "ignore_merges": ignore_merges, "vocab": v,
                "merges": [" ".join(m) for m in merges] if legacy_merges else merges}

    def template(single):
        names = [s for s in single if s != "$A"]
        return {"type": "TemplateProcessing",
                "single": [{"Sequence": {"id": "A", "type_id": 0}} if s == "$A" else {"SpecialToken": {"id": s, "type_id": 0}}
                           for s in single],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {n: {"id": n, "ids": [vocab[n]], "tokens": [n]} for n in names + ["<s>"]}}

    llama2_norm = {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": SPACE},
                                                      {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]}
    llama2_dec = {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
                                                   {"type": "ByteFallback"}, {"type": "Fuse"},
                                                   {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}

    def meta(scheme, split):
        return {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": scheme, "split": split}

    def tj(m, normalizer, pre, post, decoder):
        return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens_for(m["vocab"]),
                "normalizer": normalizer, "pre_tokenizer": pre, "model": m, "post_processor": post, "decoder": decoder}

    return [
        # Llama-2 / Mistral v0.1 tokenizer.json: normalizer form, "a b" merges.
        ("llama2", tj(model(legacy_merges=True), llama2_norm, None, template(["<s>", "$A"]), llama2_dec)),
        # The same without byte fallback: unknown characters become one fused <unk>.
        ("llama2_unk", tj(model(byte_fallback=False), llama2_norm, None, template(["<s>", "$A"]), llama2_dec)),
        # transformers' newer conversion: Metaspace pre-tokenizer, prepend only at the start.
        ("metaspace_first", tj(model(), None, meta("first", False), template(["<s>", "$A"]), meta("first", False))),
        # Metaspace splitting into words, looked up whole first (ignore_merges), EOS appended.
        ("metaspace_split_ignore_merges",
         tj(model(ignore_merges=True, fuse_unk=False, v=whole), None, meta("always", True), template(["<s>", "$A", "</s>"]),
            meta("always", True))),
    ]


def cmd_hf(out_dir, texts_path, out):
    from tokenizers import Tokenizer

    vocab, merges = train_base()
    texts = read_texts(texts_path)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for name, j in variants(vocab, merges):
            path = os.path.join(out_dir, name + ".json")
            with open(path, "w", encoding="utf-8") as g:
                json.dump(j, g, ensure_ascii=False)
            tok = Tokenizer.from_file(path)
            for add, parse in MODES:
                # parse_special false: special added tokens are plain text (tokenizers'
                # encode_special_tokens); non-special added tokens are still cut out.
                tok.encode_special_tokens = not parse
                f.write(json.dumps({"file": path, "add_special": add, "parse_special": parse}) + "\n")
                for t, enc in zip(texts, tok.encode_batch(texts, add_special_tokens=add)):
                    rec = {"ids": enc.ids}
                    if add and parse:
                        rec["text"] = tok.decode(enc.ids, skip_special_tokens=False)
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += len(enc.ids)
    print(json.dumps({"texts": len(texts), "tokens": n, "vocab": len(vocab)}))


def main():
    a = sys.argv[1:]
    if a and a[0] == "austen" and len(a) == 6 and a[2] == "--lines" and a[4] == "--paragraphs":
        cmd_austen(a[1], int(a[3]), int(a[5]))
    elif a and a[0] == "gguf" and len(a) == 4:
        cmd_gguf(a[1], a[2], a[3])
    elif a and a[0] == "hf" and len(a) == 4:
        cmd_hf(a[1], a[2], a[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
