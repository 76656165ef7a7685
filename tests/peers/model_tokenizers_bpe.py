"""Byte-level BPE ids from the peers, for tests/model/test_tokenizer_bpe_peer.cpp.
  text OUT                 writes >= 10,000 lines of Jane Austen (one JSON string a line)
  gguf MODEL LINES OUTDIR  llama.cpp (llama-cpp-python, vocab only) on the real GGUF and on
                           metadata-only copies whose tokenizer.ggml.pre / add_bos / add_eos
                           are changed, so each pre-tokenizer regex llama.cpp has is run
  json MODEL LINES OUTDIR  HF tokenizer.json files built with the `tokenizers` API from the
                           GGUF's vocabulary and merges (SmolLM2's own layout, and GPT-2,
                           Llama-3 and Qwen2 style pre-tokenizers), encoded by `tokenizers`
OUTDIR gets the tokenizer files, one <case>.bin per case (per line: int32 count, then the
int32 ids) and manifest.json listing the cases (tokenizer file, add_special, parse_special)."""
import ctypes
import json
import os
import struct
import sys

from austen_text import novel


def austen_lines():
    out = []
    for name, count in (("emma", 5000), ("prideprejudice", 5000)):
        out += [l for l in novel(name) if l.strip()][:count]
    # Paragraphs of three lines joined by newlines exercise the line-break rules.
    p = [l for l in novel("persuasion") if l.strip()][:1500]
    out += ["\n".join(p[i:i + 3]) for i in range(0, len(p), 3)]
    return out


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def write_ids(path, all_ids):
    with open(path, "wb") as f:
        for ids in all_ids:
            f.write(struct.pack("<i", len(ids)))
            f.write(struct.pack("<%di" % len(ids), *ids))


def gguf_metadata(path):
    """{key: (gguf value type, python value)} of a GGUF (read once: GGUFReader is slow on
    50,000-entry arrays)."""
    import gguf
    r = gguf.GGUFReader(path)
    return {k: (f.types[0], f.contents()) for k, f in r.fields.items() if not k.startswith("GGUF.")}


def write_variant(meta, dst, changes):
    """A metadata-only copy (no tensors: llama.cpp's vocab_only load needs none) with some
    tokenizer keys replaced (value None: removed)."""
    import gguf
    w = gguf.GGUFWriter(dst, arch=meta["general.architecture"][1])
    for k, (t, v) in meta.items():
        if k == "general.architecture" or k in changes:
            continue
        if t == gguf.GGUFValueType.ARRAY:
            w.add_array(k, v)
        else:
            w.add_key_value(k, v, t)
    for k, v in changes.items():
        if v is None:
            continue
        if isinstance(v, bool):
            w.add_bool(k, v)
        else:
            w.add_string(k, v)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def quiet_llama():
    import llama_cpp
    cb = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(cb, ctypes.c_void_p())
    quiet_llama.keep = cb  # the callback must outlive the library's use of it
    return llama_cpp


def run_gguf(model, lines_path, outdir):
    llama_cpp = quiet_llama()
    lines = read_lines(lines_path)
    enc = [l.encode("utf-8") for l in lines]
    # llama.cpp tokenizes ~10,000 lines a second here, so the copies get fewer cases.
    variants = [("smollm", model, [(True, True), (True, False), (False, True), (False, False)]),
                ("gpt-2", {"tokenizer.ggml.pre": "gpt-2"}, [(True, True)]),
                ("llama-bpe", {"tokenizer.ggml.pre": "llama-bpe"}, [(True, True), (False, False)]),
                ("qwen2", {"tokenizer.ggml.pre": "qwen2"}, [(False, True)]),
                ("default", {"tokenizer.ggml.pre": "default"}, [(True, False)]),
                ("smollm-bos-eos", {"tokenizer.ggml.add_bos_token": True, "tokenizer.ggml.add_eos_token": True},
                 [(True, False)])]
    meta = gguf_metadata(model)
    manifest = []
    for name, spec, combos in variants:
        path = spec if isinstance(spec, str) else os.path.join(outdir, name + ".gguf")
        if not isinstance(spec, str):
            write_variant(meta, path, spec)
        m = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        for add_special, parse_special in combos:
            case = "%s-add%d-parse%d" % (name, add_special, parse_special)
            write_ids(os.path.join(outdir, case + ".bin"),
                      [m.tokenize(t, add_bos=add_special, special=parse_special) for t in enc])
            manifest.append({"case": case, "tokenizer": path, "add_special": add_special, "parse_special": parse_special})
        del m
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def build_json_tokenizers(model, outdir):
    """tokenizer.json files from the GGUF vocabulary: SmolLM2's real layout plus variants."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    meta = gguf_metadata(model)
    tokens = meta["tokenizer.ggml.tokens"][1]
    types = meta["tokenizer.ggml.token_type"][1]
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"][1]]
    vocab = {t: i for i, t in enumerate(tokens)}
    control = [t for t, ty in zip(tokens, types) if ty == 3]
    llama3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    qwen2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

    def make(pre, ignore_merges=False, normalizer=None, post=None, added=None):
        tok = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), ignore_merges=ignore_merges))
        if normalizer is not None:
            tok.normalizer = normalizer
        tok.pre_tokenizer = pre
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = post if post is not None else processors.ByteLevel(trim_offsets=False)
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
        if added:
            tok.add_tokens(added)
        return tok

    smollm_pre = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                          pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    out = {
        # SmolLM2's tokenizer.json layout.
        "smollm2": make(smollm_pre),
        # With a chat-style template so add_special wraps the text.
        "smollm2-template": make(smollm_pre, post=processors.TemplateProcessing(
            single="<|im_start|> $A <|im_end|>", special_tokens=[("<|im_start|>", 1), ("<|im_end|>", 2)])),
        # GPT-2: ByteLevel alone; here with a prefix space, and user-defined added tokens
        # with lstrip/rstrip/single_word and one normalized added token.
        "gpt2-prefix": make(pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True), added=[
            AddedToken("<tool>", special=False, lstrip=True, rstrip=True, normalized=False),
            AddedToken("hello", special=False, single_word=True, normalized=False),
            AddedToken("ZZTOP", special=False, normalized=True)]),
        # Llama-3 / Qwen2 style: a Split regex, then ByteLevel without its own regex.
        "llama3": make(pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(llama3), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)]), ignore_merges=True),
        "qwen2": make(pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(qwen2), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)]),
            normalizer=normalizers.NFC()),
    }
    paths = {}
    for name, tok in out.items():
        paths[name] = os.path.join(outdir, name + ".tokenizer.json")
        tok.save(paths[name])
    return paths


def run_json(model, lines_path, outdir):
    from tokenizers import Tokenizer
    lines = read_lines(lines_path)
    manifest = []
    for name, path in build_json_tokenizers(model, outdir).items():
        tok = Tokenizer.from_file(path)  # what lowbit reads, reloaded
        for add_special in (True, False):
            for parse_special in (True, False):
                tok.encode_special_tokens = not parse_special
                case = "%s-add%d-parse%d" % (name, add_special, parse_special)
                encs = tok.encode_batch(lines, add_special_tokens=add_special)
                write_ids(os.path.join(outdir, case + ".bin"), [e.ids for e in encs])
                manifest.append({"case": case, "tokenizer": path, "add_special": add_special, "parse_special": parse_special})
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def main():
    cmd = sys.argv[1]
    if cmd == "text":
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            for l in austen_lines():
                f.write(json.dumps(l) + "\n")
    elif cmd == "gguf":
        run_gguf(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "json":
        run_json(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
