"""Independent reference for qforge's Hugging Face folder reader (exporters/hf), run with Debian's
/usr/bin/python3 (torch + numpy). Nothing here uses qforge's C++.

  write DIR VARIANT [JSON]  a random tiny HF model folder (JSON: config overrides, "zero_lm_head"): config.json, safetensors written here with numpy
                         (8-byte little-endian header length, JSON header padded with spaces to a multiple of
                         8, C-order little-endian data; huggingface/safetensors' format), shards with
                         model.safetensors.index.json for the sharded variants, and expected.json: the tokens
                         and the next-token probabilities of this script's own float64 forward.
  compare EXPECTED QFORGE  max abs difference of the probabilities (qforge probs --hf JSON); exit 1 above 1e-5.
  corrupt DIR KIND       damage a folder written by `write` in one way (bad-input tests).

The forward follows transformers' models/llama/modeling_llama.py (LlamaRMSNorm, rotate_half /
apply_rotary_pos_emb, repeat_kv, eager attention with a causal mask, LlamaMLP with SiLU), Qwen2's q/k/v biases
(models/qwen2/modeling_qwen2.py) and the rope frequencies of modeling_rope_utils.py
(_compute_default_rope_parameters, linear scaling: inv_freq / factor, _compute_llama3_parameters).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

TOLERANCE = 1e-5  # max abs over probabilities (issue 17)
TOKENS = [3, 17, 0, 42, 42, 7, 63, 5, 29, 11]

BASE = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0,
            hidden_act="silu", tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
            torch_dtype="float32", initializer_range=0.02, use_cache=True)

# name -> (architecture, config changes, storage dtype, shard count)
VARIANTS = {
    "llama_gqa": ("LlamaForCausalLM", {}, "F32", 1),
    "llama_tied_bf16": ("LlamaForCausalLM", dict(tie_word_embeddings=True, num_key_value_heads=4), "BF16", 1),
    "llama3_rope": ("LlamaForCausalLM", dict(rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                               high_freq_factor=4.0,
                                                               original_max_position_embeddings=64),
                                             max_position_embeddings=512), "F32", 1),
    "llama_head_dim_bias": ("LlamaForCausalLM", dict(head_dim=12, attention_bias=True, mlp_bias=True,
                                                     rope_scaling=dict(type="linear", factor=2.0)), "F16", 1),
    "qwen2": ("Qwen2ForCausalLM", dict(tie_word_embeddings=True, use_sliding_window=False, sliding_window=4096,
                                       max_window_layers=2, rope_theta=1000000.0), "F32", 1),
    "mistral_sharded": ("MistralForCausalLM", dict(sliding_window=4096, num_hidden_layers=3), "BF16", 3),
}

MODEL_TYPE = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2"}


# ---- storage ----

def round_to(values, dtype):
    """float64 values as the file stores them, decoded back to float64."""
    v32 = values.astype(np.float32)
    if dtype == "F32":
        return v32.astype(np.float64)
    if dtype == "F16":
        return v32.astype(np.float16).astype(np.float64)
    bits = v32.view(np.uint32).astype(np.uint64)  # BF16: round to nearest even on the upper 16 bits
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint32) << 16
    return rounded.view(np.float32).astype(np.float64)


def encode(values, dtype):
    v32 = values.astype(np.float32)
    if dtype == "F32":
        return v32.astype("<f4").tobytes()
    if dtype == "F16":
        return v32.astype("<f2").tobytes()
    bits = v32.view(np.uint32).astype(np.uint64)
    return (((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")).tobytes()


def safetensors_bytes(tensors, dtype, offsets=None, dtypes=None):
    """tensors: list of (name, float64 array). offsets/dtypes override the header fields (corruptions)."""
    header, blobs, at = {}, [], 0
    for name, value in sorted(tensors):
        blob = encode(value, dtype)
        begin, end = (offsets or {}).get(name, (at, at + len(blob)))
        header[name] = {"dtype": (dtypes or {}).get(name, dtype), "shape": list(value.shape),
                        "data_offsets": [begin, end]}
        blobs.append(blob)
        at += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


# ---- random model ----

def tensor_shapes(cfg, arch):
    h, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or h // heads
    inter = cfg["intermediate_size"]
    qkv_bias = cfg.get("attention_bias", False) or arch == "Qwen2ForCausalLM"
    shapes = [("model.embed_tokens.weight", (cfg["vocab_size"], h))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for name, rows, cols, bias in [("self_attn.q_proj", heads * hd, h, qkv_bias),
                                       ("self_attn.k_proj", kv * hd, h, qkv_bias),
                                       ("self_attn.v_proj", kv * hd, h, qkv_bias),
                                       ("self_attn.o_proj", h, heads * hd, cfg.get("attention_bias", False)),
                                       ("mlp.gate_proj", inter, h, cfg.get("mlp_bias", False)),
                                       ("mlp.up_proj", inter, h, cfg.get("mlp_bias", False)),
                                       ("mlp.down_proj", h, inter, cfg.get("mlp_bias", False))]:
            shapes.append((p + name + ".weight", (rows, cols)))
            if bias:
                shapes.append((p + name + ".bias", (rows,)))
        shapes += [(p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,))]
    shapes.append(("model.norm.weight", (h,)))
    if not cfg["tie_word_embeddings"]:
        shapes.append(("lm_head.weight", (cfg["vocab_size"], h)))
    return shapes


def random_weights(cfg, arch, seed):
    """O(1) activations: N(0, 1/fan_in) matrices, N(0, 1) embeddings, norms near 1, small biases."""
    rng = np.random.default_rng(seed)
    out = []
    for name, shape in tensor_shapes(cfg, arch):
        if name.endswith("norm.weight"):
            v = 1.0 + 0.2 * rng.standard_normal(shape)
        elif name.endswith(".bias"):
            v = 0.3 * rng.standard_normal(shape)
        elif "embed_tokens" in name:
            v = rng.standard_normal(shape)
        else:
            v = rng.standard_normal(shape) * (1.5 / math.sqrt(shape[1]))
        out.append((name, v))
    return out


# ---- float64 forward (transformers' formulas) ----

def inv_frequencies(cfg):
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv / rs["factor"]
    assert kind == "llama3"
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv
    scaled = np.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return np.where(medium, smoothed, scaled)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def forward(cfg, arch, w, tokens):
    t = len(tokens)
    h, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or h // heads
    eps = cfg["rms_norm_eps"]
    freqs = torch.outer(torch.arange(t, dtype=torch.float64), torch.tensor(inv_frequencies(cfg)))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def linear(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    mask = torch.full((t, t), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = linear(a, p + "self_attn.q_proj").view(t, heads, hd).transpose(0, 1)
        k = linear(a, p + "self_attn.k_proj").view(t, kv, hd).transpose(0, 1)
        v = linear(a, p + "self_attn.v_proj").view(t, kv, hd).transpose(0, 1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(heads // kv, dim=0), v.repeat_interleave(heads // kv, dim=0)
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
        o = (scores.softmax(-1) @ v).transpose(0, 1).reshape(t, heads * hd)
        x = x + linear(o, p + "self_attn.o_proj")
        m = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = linear(m, p + "mlp.gate_proj")
        x = x + linear(torch.nn.functional.silu(gate) * linear(m, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return (x @ head.T).softmax(-1)


# ---- commands ----

def write_folder(folder, variant, overrides=None):
    """overrides: config changes on top of the variant; "zero_lm_head": true writes lm_head as zeros."""
    arch, changes, dtype, shards = VARIANTS[variant]
    overrides = dict(overrides or {})
    zero_head = overrides.pop("zero_lm_head", False)
    cfg = dict(BASE, **changes, architectures=[arch], model_type=MODEL_TYPE[arch])
    cfg.update(overrides)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tensors = random_weights(cfg, arch, seed=sorted(VARIANTS).index(variant) + 1)
    if zero_head:
        tensors = [(n, np.zeros_like(v) if n == "lm_head.weight" else v) for n, v in tensors]
    if shards == 1:
        with open(os.path.join(folder, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes(tensors, dtype))
    else:
        weight_map = {}
        for s in range(shards):
            part = tensors[s::shards]
            name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            with open(os.path.join(folder, name), "wb") as f:
                f.write(safetensors_bytes(part, dtype))
            weight_map.update({n: name for n, _ in part})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    stored = {n: torch.tensor(round_to(v, dtype)) for n, v in tensors}
    probs = forward(cfg, arch, stored, TOKENS)
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump({"tokens": TOKENS, "probs": probs.tolist()}, f)


def compare(expected_path, qforge_path):
    expected = np.array(json.load(open(expected_path))["probs"])
    got = json.load(open(qforge_path))
    actual = np.array(got["probs"])
    if actual.shape != expected.shape:
        print(f"shape {actual.shape} != expected {expected.shape}")
        return 1
    diff = np.abs(actual - expected).max()
    print(f"max abs diff {diff:.3e} over {expected.size} probabilities (tolerance {TOLERANCE:g}); "
          f"largest probability {expected.max():.4f}")
    return 0 if diff <= TOLERANCE else 1


def rewrite_single(folder, drop=None, **overrides):
    """Rewrites model.safetensors from its own decoded tensors, without `drop`, header fields overridden."""
    path = os.path.join(folder, "model.safetensors")
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    dtype = next(v["dtype"] for k, v in header.items() if k != "__metadata__")
    assert dtype == "F32"
    tensors = []
    for name, info in header.items():
        if name == drop:
            continue
        b, e = info["data_offsets"]
        tensors.append((name, np.frombuffer(raw[8 + n + b:8 + n + e], "<f4").reshape(info["shape"]).astype(np.float64)))
    open(path, "wb").write(safetensors_bytes(tensors, dtype, **overrides))
    return header


def corrupt(folder, kind):
    single = os.path.join(folder, "model.safetensors")
    if kind == "truncated":  # the last tensor's bytes cut short
        data = open(single, "rb").read()
        open(single, "wb").write(data[:-6])
    elif kind == "header_length":
        data = bytearray(open(single, "rb").read())
        data[:8] = struct.pack("<Q", len(data) + 1000)
        open(single, "wb").write(bytes(data))
    elif kind == "overlap":  # the norm's range moved back by 4 bytes into the tensor before it
        header = json.loads(open(single, "rb").read()[8:8 + struct.unpack("<Q", open(single, "rb").read()[:8])[0]])
        b, e = header["model.norm.weight"]["data_offsets"]
        rewrite_single(folder, offsets={"model.norm.weight": (b - 4, e - 4)})
    elif kind == "dtype":
        rewrite_single(folder, dtypes={"model.norm.weight": "I32"})  # as many bytes as F32
    elif kind == "shape":
        cfg = json.load(open(os.path.join(folder, "config.json")))
        cfg["intermediate_size"] = 40
        json.dump(cfg, open(os.path.join(folder, "config.json"), "w"))
    elif kind == "architecture":
        cfg = json.load(open(os.path.join(folder, "config.json")))
        cfg["architectures"] = ["GPT2LMHeadModel"]
        json.dump(cfg, open(os.path.join(folder, "config.json"), "w"))
    elif kind in ("rope_yarn", "gelu"):
        cfg = json.load(open(os.path.join(folder, "config.json")))
        if kind == "rope_yarn":
            cfg["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0}
        else:
            cfg["hidden_act"] = "gelu"
        json.dump(cfg, open(os.path.join(folder, "config.json"), "w"))
    elif kind == "missing_shard":  # sharded folders: the index names a file that is not there
        index = os.path.join(folder, "model.safetensors.index.json")
        j = json.load(open(index))
        j["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors"
        json.dump(j, open(index, "w"))
    elif kind == "missing_tensor":  # a shard without a tensor the config needs
        rewrite_single(folder, drop="model.layers.1.mlp.up_proj.weight")
    else:
        raise SystemExit(f"unknown corruption {kind}")


def main(argv):
    if argv[1] == "write":
        write_folder(argv[2], argv[3], json.loads(argv[4]) if len(argv) > 4 else None)
        return 0
    if argv[1] == "compare":
        return compare(argv[2], argv[3])
    if argv[1] == "corrupt":
        corrupt(argv[2], argv[3])
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
