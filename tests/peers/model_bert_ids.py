"""Token ids of real sentences for the BERT encoder tests: sentences of Persuasion and Emma
(tests/peers/austen_text.py) tokenized by the `tokenizers` library with the model's own
tokenizer.json ([CLS] ... [SEP], truncated to --max-length), so the C++ tests do not depend
on lowbit's tokenizer. The picks span the length distribution: evenly spaced ranks, plus
the longest sentences (several exceed 256 tokens and are truncated), in a seeded order.

usage: model_bert_ids.py --model DIR --count N --max-length L --out ids.json"""
import argparse
import json
import os
import random
import sys

from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import austen_text  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--count", type=int, default=64)
ap.add_argument("--max-length", type=int, default=256)
ap.add_argument("--out", required=True)
a = ap.parse_args()

tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
tok.no_padding()  # MiniLM's tokenizer.json pads everything to 128
tok.no_truncation()
pool = austen_text.sentences("persuasion", 100000) + austen_text.sentences("emma", 100000)
lengths = [len(tok.encode(s).ids) for s in pool]
order = sorted(range(len(pool)), key=lambda i: (lengths[i], i))

n_long = a.count // 4  # from the 100 longest: the > 128 and > max-length cases
n_even = a.count - n_long
picked = [order[round(k * (len(order) - 101) / max(n_even - 1, 1))] for k in range(n_even)]
top = order[-100:]
picked += top[-4:]  # the longest four: all past 256 tokens in Emma
picked += [top[round(k * 95 / max(n_long - 5, 1))] for k in range(n_long - 4)]
picked = list(dict.fromkeys(picked))
random.Random(0).shuffle(picked)

tok.enable_truncation(max_length=a.max_length)
sentences = [pool[i] for i in picked]
ids = [tok.encode(s).ids for s in sentences]
with open(a.out, "w") as f:
    json.dump({"sentences": sentences, "ids": ids, "max_length": a.max_length,
               "untruncated_lengths": [lengths[i] for i in picked]}, f)
print(json.dumps({"count": len(ids), "lengths": [len(x) for x in ids]}))
