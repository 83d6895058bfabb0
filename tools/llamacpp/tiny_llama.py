"""Writes a tiny random F32 llama GGUF with gguf-py and computes its exact float64 forward.

Used to prove tools/llamacpp/probs.mjs on a GGUF with weights:
  PYTHONPATH=LLAMA_CPP/gguf-py /usr/bin/python3 tiny_llama.py write OUT.gguf
  PYTHONPATH=LLAMA_CPP/gguf-py /usr/bin/python3 tiny_llama.py check OUT.gguf PROBS.json
The reference forward follows llama.cpp's llama graph: RMS norm, rope on adjacent pairs
(LLAMA_ROPE_TYPE_NORM, freq base 10000), GQA causal attention, SwiGLU, untied output.
"""
import json
import sys

import numpy as np
import gguf

N_EMBD, N_HEAD, N_HEAD_KV, N_FF, N_LAYER, EPS = 64, 4, 2, 96, 2, 1e-5


def vocab():
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    words = ["\u2581", "\u2581a", "\u2581b", "\u2581the", "\u2581cat", "\u2581dog", "a", "b", "c", "t"]
    tokens += words
    types += [gguf.TokenType.NORMAL] * len(words)
    scores = [0.0] * 259 + [-float(i) for i in range(len(words))]
    return tokens, scores, types


def weights(n_vocab):
    rng = np.random.default_rng(1234)
    head_dim = N_EMBD // N_HEAD

    def rand(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    tensors = {"token_embd.weight": rand(n_vocab, N_EMBD, scale=1.0),
               "output_norm.weight": (1 + rand(N_EMBD, scale=0.1)),
               "output.weight": rand(n_vocab, N_EMBD)}
    for layer in range(N_LAYER):
        prefix = f"blk.{layer}."
        tensors.update({prefix + "attn_norm.weight": 1 + rand(N_EMBD, scale=0.1),
                        prefix + "attn_q.weight": rand(N_HEAD * head_dim, N_EMBD),
                        prefix + "attn_k.weight": rand(N_HEAD_KV * head_dim, N_EMBD),
                        prefix + "attn_v.weight": rand(N_HEAD_KV * head_dim, N_EMBD),
                        prefix + "attn_output.weight": rand(N_EMBD, N_HEAD * head_dim),
                        prefix + "ffn_norm.weight": 1 + rand(N_EMBD, scale=0.1),
                        prefix + "ffn_gate.weight": rand(N_FF, N_EMBD),
                        prefix + "ffn_up.weight": rand(N_FF, N_EMBD),
                        prefix + "ffn_down.weight": rand(N_EMBD, N_FF)})
    return tensors


def write(path):
    tokens, scores, types = vocab()
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("qforge tiny llama")
    writer.add_context_length(128)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(EPS)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    for name, data in weights(len(tokens)).items():
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def rms_norm(x, weight):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS) * weight


def rope(x):  # x: (T, heads, head_dim); rotates pairs (2i, 2i+1) by pos * 10000^(-2i/d)
    seq, _, dim = x.shape
    theta = np.arange(seq)[:, None] * 10000.0 ** (-np.arange(0, dim, 2) / dim)[None, :]
    cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def forward(tensors, token_ids):
    w = {k: v.astype(np.float64) for k, v in tensors.items()}
    head_dim = N_EMBD // N_HEAD
    seq = len(token_ids)
    h = w["token_embd.weight"][token_ids]
    mask = np.triu(np.full((seq, seq), -np.inf), 1)
    for layer in range(N_LAYER):
        p = f"blk.{layer}."
        x = rms_norm(h, w[p + "attn_norm.weight"])
        q = rope((x @ w[p + "attn_q.weight"].T).reshape(seq, N_HEAD, head_dim))
        k = rope((x @ w[p + "attn_k.weight"].T).reshape(seq, N_HEAD_KV, head_dim))
        v = (x @ w[p + "attn_v.weight"].T).reshape(seq, N_HEAD_KV, head_dim)
        group = N_HEAD // N_HEAD_KV
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(head_dim) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attn = np.einsum("hqk,khd->qhd", scores, v).reshape(seq, N_EMBD)
        h = h + attn @ w[p + "attn_output.weight"].T
        x = rms_norm(h, w[p + "ffn_norm.weight"])
        gate = x @ w[p + "ffn_gate.weight"].T
        h = h + (gate / (1 + np.exp(-gate)) * (x @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
    logits = rms_norm(h, w["output_norm.weight"]) @ w["output.weight"].T
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    return probs / probs.sum(-1, keepdims=True)


def check(path, probs_json):
    result = json.load(open(probs_json))
    tensors = weights(len(vocab()[0]))
    want = forward(tensors, result["tokens"])
    got = np.array(result["probs"], dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    kl = np.sum(want * (np.log(want) - np.log(got)), axis=-1)
    print(json.dumps({"positions": got.shape[0], "vocab": got.shape[1],
                      "max_abs_prob_diff": float(np.abs(got - want).max()),
                      "mean_kl": float(kl.mean()), "max_row_sum_error": float(np.abs(got.sum(-1) - 1).max())}))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3])
