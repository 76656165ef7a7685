"""A tiny randomly initialised decoder built by transformers, saved as a HF checkpoint,
with the logits transformers computes for it: the peer of lowbit's DecoderModel on HF
checkpoints. Weights are seeded (torch.manual_seed(0)) and drawn wider than HF's default
init (std 0.1; RMSNorm weights and biases perturbed, not left at 1 and 0) so attention,
norms and biases all shape the logits.

usage: model_transformers_llama.py --variant V --out DIR
  V: base | tied | bias | rope-linear | rope-llama3 | rope-dynamic | rope-yarn | qwen2
writes DIR/config.json + DIR/model.safetensors (save_pretrained, safe_serialization)
       DIR/ids.json     3 seeded random sequences of 1, 17 and 200 token ids
       DIR/logits.f32   little-endian fp32 logits [sum T, vocab], eval mode, each sequence
                        run alone from position 0 (no padding, no cache reuse)
       DIR/meta.json    vocab, lengths, versions, rope_scaling, and per sequence the
                        inv_freq and cos/sin scale transformers' rotary embedding used

Variant notes (transformers 4.49 semantics, checked below so a silent fallback to plain
RoPE fails here instead of passing downstream):
  rope-dynamic: max_position_embeddings 64, factor 2; the 200-token sequence exceeds 64,
    so the base becomes theta * (factor*T/64 - (factor-1))^(d/(d-2)) with T = 200 for that
    whole sequence (shorter ones keep theta). transformers caches the grown frequencies
    and only resets below the original length; sequences run in increasing length, so
    each gets the frequencies of its own length.
  rope-yarn: max_position_embeddings 64 is the original context (4.49 reads it from there,
    not from rope_scaling), factor 4, beta_fast 32, beta_slow 1, attention_factor default
    0.1 ln(factor) + 1 multiplies cos and sin.
  rope-llama3: factor 8, low/high_freq_factor 1/4, original_max_position_embeddings 64, so
    with head_dim 16 and theta 1e4 the 8 frequencies fall in all three bands (kept, scaled
    by 1/8, smoothly interpolated)."""
import argparse
import json
import os
import random

import torch
import transformers

ap = argparse.ArgumentParser()
ap.add_argument("--variant", required=True)
ap.add_argument("--out", required=True)
a = ap.parse_args()

VOCAB, LENGTHS = 512, [1, 17, 200]
common = dict(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              head_dim=16, intermediate_size=176, rms_norm_eps=1e-5, max_position_embeddings=256, rope_theta=10000.0,
              initializer_range=0.1, tie_word_embeddings=False, torch_dtype="float32")
llama_variants = {
    "base": {},
    "tied": dict(tie_word_embeddings=True),
    "bias": dict(attention_bias=True, mlp_bias=False),
    "rope-linear": dict(rope_scaling={"type": "linear", "factor": 2.0}),
    "rope-llama3": dict(rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
    "rope-dynamic": dict(max_position_embeddings=64, rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
    "rope-yarn": dict(max_position_embeddings=64, rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                                                "beta_fast": 32.0, "beta_slow": 1.0}),
}
expected_rope = {"rope-linear": "linear", "rope-llama3": "llama3", "rope-dynamic": "dynamic", "rope-yarn": "yarn"}

torch.manual_seed(0)
if a.variant in llama_variants:
    config = transformers.LlamaConfig(**{**common, **llama_variants[a.variant]})
    model = transformers.LlamaForCausalLM(config)
elif a.variant == "qwen2":
    if not hasattr(transformers, "Qwen2ForCausalLM"):
        raise SystemExit(f"transformers {transformers.__version__} has no Qwen2ForCausalLM")
    q = {k: v for k, v in common.items() if k != "head_dim"}  # Qwen2 derives head_dim = hidden / heads
    config = transformers.Qwen2Config(**q, use_sliding_window=False, sliding_window=None)
    model = transformers.Qwen2ForCausalLM(config)
else:
    raise SystemExit(f"unknown variant {a.variant!r}")
config._attn_implementation = "eager"  # torch 1.13 has no SDPA; say so rather than rely on the fallback
model.eval()

# Wider than HF's init, with non-trivial norms and biases (HF initialises them to 1 and 0).
g = torch.Generator().manual_seed(1)
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("norm.weight"):
            p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
        elif name.endswith(".bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=g))

if a.variant == "bias":
    assert model.model.layers[0].self_attn.q_proj.bias is not None and model.model.layers[0].self_attn.o_proj.bias is not None
    assert model.model.layers[0].mlp.gate_proj.bias is None
if a.variant == "qwen2":
    attn = model.model.layers[0].self_attn
    assert attn.q_proj.bias is not None and attn.k_proj.bias is not None and attn.v_proj.bias is not None
    assert attn.o_proj.bias is None
if a.variant == "tied":
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()

os.makedirs(a.out, exist_ok=True)
model.save_pretrained(a.out, safe_serialization=True)

rng = random.Random(0)
ids = [[rng.randrange(VOCAB) for _ in range(n)] for n in LENGTHS]
rotary = model.model.rotary_emb
dim = config.head_dim if getattr(config, "head_dim", None) else config.hidden_size // config.num_attention_heads
default_inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
logits, inv_freqs, scales = [], [], []
with torch.no_grad():
    for seq in ids:
        out = model(torch.tensor([seq]), use_cache=False).logits[0]
        logits.append(out.float())
        inv_freqs.append(rotary.inv_freq.float().tolist())
        scales.append(float(rotary.attention_scaling))

rope_type = getattr(rotary, "rope_type", "default")
if a.variant in expected_rope:
    assert rope_type == expected_rope[a.variant], (rope_type, a.variant)
    # The scaling must change the frequencies of at least the longest sequence.
    assert not torch.allclose(torch.tensor(inv_freqs[-1]), default_inv_freq), f"{a.variant}: inv_freq is unscaled"
else:
    assert rope_type == "default" and torch.allclose(torch.tensor(inv_freqs[-1]), default_inv_freq)

torch.cat(logits).numpy().astype("<f4").tofile(os.path.join(a.out, "logits.f32"))
with open(os.path.join(a.out, "ids.json"), "w") as f:
    json.dump(ids, f)
meta = {"variant": a.variant, "model_type": config.model_type, "vocab": VOCAB, "lengths": LENGTHS,
        "transformers": transformers.__version__, "torch": torch.__version__, "rope_type": rope_type,
        "rope_scaling": config.rope_scaling, "inv_freq": inv_freqs, "attention_scaling": scales,
        "tie_word_embeddings": bool(config.tie_word_embeddings)}
with open(os.path.join(a.out, "meta.json"), "w") as f:
    json.dump(meta, f, indent=1)
print(json.dumps({k: meta[k] for k in ("variant", "model_type", "rope_type", "transformers", "torch")}))
