"""Self-contained PyTorch reference of Hugging Face's Llama for tests/layers/test_llama_torch_parity.cpp.

Re-implements transformers/models/llama/modeling_llama.py (LlamaRMSNorm, rotary embedding with
rotate_half, repeat_kv, LlamaAttention, LlamaMLP, LlamaDecoderLayer, LlamaModel, LlamaForCausalLM)
without importing transformers (not installed). Module attribute names and __init__ order follow
HF, so state_dict keys and named_parameters() order are HF's.

Request (QFT1, see tests/support/tensor_file.h), per case <c>:
  <c>/config/<field>  0-d tensors (LlamaConfig fields)
  <c>/w/<name>        every parameter, loaded with strict=True (so the names must be HF's)
  <c>/ids [b, t], <c>/targets [b*t]
Answer, per case: <c>/logits, <c>/loss, <c>/grad/<name>, <c>/names (named_parameters order, one a
line). Everything runs in float64; a case that raises is answered with <c>/error.
"""
import math
import os
import sys
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.variance_epsilon))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rotary_cos_sin(seq, head_dim, theta, dtype):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def repeat_kv(x, n_rep):
    b, kv_heads, t, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kv_heads, n_rep, t, d).reshape(b, kv_heads * n_rep, t, d)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.hidden_size = cfg["hidden_size"]
        self.num_heads = cfg["num_attention_heads"]
        self.num_key_value_heads = cfg["num_key_value_heads"]
        self.head_dim = self.hidden_size // self.num_heads
        self.rope_theta = cfg["rope_theta"]
        self.q_proj = nn.Linear(self.hidden_size, self.num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(self.hidden_size, self.num_key_value_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(self.hidden_size, self.num_key_value_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, self.hidden_size, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        cos, sin = rotary_cos_sin(t, self.head_dim, self.rope_theta, x.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        n_rep = self.num_heads // self.num_key_value_heads
        k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim)
        mask = torch.full((t, t), float("-inf"), dtype=x.dtype).triu(1)
        probs = torch.softmax(scores + mask, dim=-1)
        out = (probs @ v).transpose(1, 2).reshape(b, t, self.num_heads * self.head_dim)
        return self.o_proj(out)


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden, inter = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = nn.Linear(hidden, inter, bias=False)
        self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = LlamaRMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.post_attention_layernorm = LlamaRMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, x):
        h = x + self.self_attn(self.input_layernorm(x))
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.norm = LlamaRMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, ids):
        h = self.embed_tokens(ids)
        for layer in self.layers:
            h = layer(h)
        return self.norm(h)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.model = LlamaModel(cfg)
        # HF ties by sharing the Parameter; it then appears once in named_parameters()
        # (under model.embed_tokens.weight), so a tied model simply has no lm_head here.
        self.tied = cfg["tie_word_embeddings"]
        if not self.tied:
            self.lm_head = nn.Linear(cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, ids):
        h = self.model(ids)
        weight = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return F.linear(h, weight)


INT_FIELDS = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
              "intermediate_size", "max_position_embeddings"]


def run_case(request, case):
    cfg = {}
    for field in INT_FIELDS:
        cfg[field] = int(request[f"{case}/config/{field}"].item())
    cfg["rope_theta"] = float(request[f"{case}/config/rope_theta"].item())
    cfg["rms_norm_eps"] = float(request[f"{case}/config/rms_norm_eps"].item())
    cfg["tie_word_embeddings"] = bool(request[f"{case}/config/tie_word_embeddings"].item())
    model = LlamaForCausalLM(cfg).double()
    prefix = f"{case}/w/"
    weights = {k[len(prefix):]: v for k, v in request.items() if k.startswith(prefix)}
    model.load_state_dict(weights, strict=True)
    ids = request[f"{case}/ids"].long()
    targets = request[f"{case}/targets"].long()
    logits = model(ids)
    loss = F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets)
    loss.backward()
    answer = {f"{case}/logits": logits, f"{case}/loss": loss,
              f"{case}/names": "\n".join(name for name, _ in model.named_parameters())}
    for name, p in model.named_parameters():
        answer[f"{case}/grad/{name}"] = p.grad
    return answer


def main(request_path, answer_path):
    request = read_qft(request_path)
    cases = sorted({name.split("/")[0] for name in request})
    answer = {}
    for case in cases:
        try:
            answer.update(run_case(request, case))
        except Exception:  # reported by name on the C++ side
            answer[f"{case}/error"] = traceback.format_exc()
    write_qft(answer_path, answer)


if __name__ == "__main__":
    torch.manual_seed(0)
    main(sys.argv[1], sys.argv[2])
