"""PyTorch twins of examples/fashion_mnist_mlp.pbtxt and examples/char_llama_fortunes.pbtxt (and
of their quantization-aware variants *_qat.pbtxt) for bench/compare_training.py: same model, data,
optimizer and schedule (seeds differ), timed like qforge's trainer (trainers/trainer.cpp): the clock
runs over training steps only (batch gathering, forward, backward, clipping, optimizer step), not
over loading data or evaluation.

  /usr/bin/python3 bench/torch_train.py mlp [--epochs 3] [--qat [--fused]]
  /usr/bin/python3 bench/torch_train.py char_llama [--steps 2000] [--qat]

--qat trains with fake quantization, written the way a PyTorch 1.13 user would:
  mlp: eager-mode torch.ao.quantization (fuse_modules_qat, QuantStub/DeQuantStub, prepare_qat)
       with int4 per-output-channel symmetric weights (min-max of the current weights each step)
       and int8 affine per-tensor activations (moving-average min-max, averaging constant 0.01)
       in front of every Linear; --fused uses FusedMovingAvgObsFakeQuantize (the module of
       torch's default QAT qconfig) instead of FakeQuantize.
  char_llama: int4 group-32 symmetric weights on the attention and MLP projections (embedding
       and lm_head float): torch.ao has no per-group fake quant, so each weight is viewed as
       [out*in/32, 32] and torch.fake_quantize_per_channel_affine runs on that view with scales
       absmax/7 recomputed every step.
Gradients are torch's fake-quant STE: passed where the value lies inside the grid, 0 outside
(clipped STE).

Prints one line like qforge's CLI, e.g.
  final: step=1407 train_loss=0.2811 val_loss=0.3402 val_accuracy=0.8772 samples_per_second=... step_ms=...
The thread environment (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS...) is the caller's business.
"""
import argparse
import gzip
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
FORTUNES = "/usr/share/games/fortunes"
# data/fortunes_corpus.cpp english_fortunes_files(), in its order.
FORTUNE_FILES = [
    "art", "ascii-art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education", "ethnic",
    "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie", "literature", "love",
    "magic", "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people", "perl", "pets", "platitudes",
    "politics", "pratchett", "riddles", "science", "songs-poems", "sports", "startrek", "tao", "translate-me",
    "wisdom", "work", "zippy"]


def read_idx(path):
    """IDX file (big-endian header: magic with the rank in its last byte, then one uint32 per dim)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def fashion_mnist(split, mean=0.2860, std=0.3530):
    images = read_idx(f"{FASHION_MNIST}/{split}-images-idx3-ubyte.gz")
    labels = read_idx(f"{FASHION_MNIST}/{split}-labels-idx1-ubyte.gz")
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    return (x - mean) / std, torch.from_numpy(labels.astype(np.int64))


def mlp_qconfig(fused):
    """int8 affine per-tensor activations (quint8 0..255, moving-average min-max with averaging
    constant 0.01, torch's default) and int4 per-output-channel symmetric weights (-8..7). The
    weight observer averages with constant 1, i.e. takes the min-max of the current weights every
    step (PerChannelMinMaxObserver would keep the extremes of all steps instead). torch's symmetric
    observers divide the absmax by (qmax - qmin) / 2 = 7.5 where qforge divides by qmax = 7: the
    grids differ by that factor, the work does not."""
    from torch.ao.quantization import (FakeQuantize, FusedMovingAvgObsFakeQuantize, MovingAverageMinMaxObserver,
                                       MovingAveragePerChannelMinMaxObserver, QConfig)
    fake_quant = FusedMovingAvgObsFakeQuantize if fused else FakeQuantize
    activation = fake_quant.with_args(observer=MovingAverageMinMaxObserver, averaging_constant=0.01, quant_min=0,
                                      quant_max=255, dtype=torch.quint8, qscheme=torch.per_tensor_affine)
    weight = fake_quant.with_args(observer=MovingAveragePerChannelMinMaxObserver, averaging_constant=1.0,
                                  quant_min=-8, quant_max=7, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                  ch_axis=0)
    return QConfig(activation=activation, weight=weight)


def mlp_model(args):
    """784-256-256-10 with ReLU. With --qat, the eager-mode recipe of the torch.ao.quantization docs:
    QuantStub/DeQuantStub around the float model, Linear+ReLU fused (so the activation fake quant
    sits after the ReLU, i.e. on the next Linear's input), prepare_qat. prepare_qat also
    fake-quantizes the logits (the last Linear's output); qforge quantizes Linear inputs only, so
    that one is replaced by an identity to train the same model."""
    layers = [nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)]
    if not args.qat:
        return nn.Sequential(*layers)
    from torch.ao.quantization import DeQuantStub, QuantStub, fuse_modules_qat, prepare_qat
    model = nn.Sequential(QuantStub(), *layers, DeQuantStub()).train()
    model = fuse_modules_qat(model, [["1", "2"], ["3", "4"]])
    model.qconfig = mlp_qconfig(args.fused)
    model = prepare_qat(model)
    model[5].activation_post_process = nn.Identity()
    return model


def freeze_activation_ranges(model):
    """For evaluation: activation observers stop (their moving-average ranges stay as trained);
    weight observers keep running, so the weights are quantized with their own final ranges."""
    for module in model.modules():
        if hasattr(module, "activation_post_process") and hasattr(module.activation_post_process, "disable_observer"):
            module.activation_post_process.disable_observer()


def run_mlp(args):
    train_x, train_y = fashion_mnist("train")
    test_x, test_y = fashion_mnist("t10k")
    model = mlp_model(args)
    lr = 2e-3
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batch, n = 128, len(train_x)
    total = args.epochs * ((n + batch - 1) // batch)
    seconds, samples, step, window = 0.0, 0, 0, []
    for _ in range(args.epochs):
        order = torch.randperm(n)  # shuffled batches, the last partial one kept
        for first in range(0, n, batch):
            start = time.perf_counter()
            for group in optimizer.param_groups:  # cosine decay to 0, no warm-up, as the config
                group["lr"] = lr * cosine_factor(step, 0, total, 0.0)
            index = order[first:first + batch]
            loss = F.cross_entropy(model(train_x[index]), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seconds += time.perf_counter() - start
            samples += len(index)
            step += 1
            window.append(loss.item())
    if args.qat:
        freeze_activation_ranges(model)
    with torch.no_grad():
        logits = model(test_x)
        val_loss = F.cross_entropy(logits, test_y).item()
        accuracy = (logits.argmax(-1) == test_y).double().mean().item()
    print(f"final: step={step} train_loss={np.mean(window[-50:]):.4f} val_loss={val_loss:.4f} "
          f"val_accuracy={accuracy:.4f} samples_per_second={samples / seconds:.1f} "
          f"step_ms={1000 * seconds / step:.3f}", flush=True)


def split_fortunes(text):
    """data/fortunes_corpus.cpp split_fortunes: entries end at lines holding only '%'; every line of
    an entry gets its newline (also a last line without one); empty entries are dropped."""
    entries, entry = [], []
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the C++ loop stops at the end of the text, so no empty line after the last newline
    for line in lines:
        if line == "%":
            if entry:
                entries.append("".join(entry))
            entry = []
        else:
            entry.append(line + "\n")
    if entry:
        entries.append("".join(entry))
    return entries


def fortunes_corpus():
    """load_fortunes_corpus: every entry followed by a blank line, files in english_fortunes_files() order."""
    parts = []
    for name in FORTUNE_FILES:
        with open(os.path.join(FORTUNES, name), "rb") as f:
            parts.extend(entry + "\n" for entry in split_fortunes(f.read().decode("utf-8")))
    return "".join(parts)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class GroupFakeQuantLinear(nn.Linear):
    """Linear whose weight is fake-quantized to int4 (-8..7), symmetric, one scale per group of 32
    consecutive input weights: torch.fake_quantize_per_channel_affine on the [out*in/32, 32] view,
    scale = group absmax / 7 from the current weights each step."""

    group = 32

    def forward(self, x):
        groups = self.weight.view(-1, self.group)
        scale = (groups.detach().abs().amax(1) / 7).clamp_min(torch.finfo(torch.float32).eps)
        zero_point = torch.zeros(len(groups), dtype=torch.int32)
        weight = torch.fake_quantize_per_channel_affine(groups, scale, zero_point, 0, -8, 7).view_as(self.weight)
        return F.linear(x, weight, self.bias)


class Block(nn.Module):
    """HF LlamaDecoderLayer (pre-norm attention with RoPE and grouped key/value heads, SwiGLU MLP)."""

    def __init__(self, dim, heads, kv_heads, inter, eps, linear=nn.Linear):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.q_proj = linear(dim, dim, bias=False)
        self.k_proj = linear(dim, kv_heads * self.head_dim, bias=False)
        self.v_proj = linear(dim, kv_heads * self.head_dim, bias=False)
        self.o_proj = linear(dim, dim, bias=False)
        self.gate_proj = linear(dim, inter, bias=False)
        self.up_proj = linear(dim, inter, bias=False)
        self.down_proj = linear(inter, dim, bias=False)
        self.input_layernorm = RMSNorm(dim, eps)
        self.post_attention_layernorm = RMSNorm(dim, eps)

    def attention(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        # 1/sqrt(head_dim) scales q, not the [b, h, t, t] scores as HF does: the same math, and
        # a quarter of the elementwise work at t=128 (the division was 12% of a step here).
        q = (q * cos + rotate_half(q) * sin) * (1.0 / math.sqrt(self.head_dim))
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads
        k = k.repeat_interleave(rep, dim=1)  # HF repeat_kv: query head h reads key/value head h // rep
        v = v.repeat_interleave(rep, dim=1)
        probs = torch.softmax(q @ k.transpose(2, 3) + mask, dim=-1)
        return self.o_proj((probs @ v).transpose(1, 2).reshape(b, t, -1))

    def forward(self, x, cos, sin, mask):
        h = x + self.attention(self.input_layernorm(x), cos, sin, mask)
        m = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(nn.Module):
    """HF LlamaForCausalLM with an untied lm_head; weights ~ N(0, 0.02) as HF's _init_weights.
    `linear` builds the attention and MLP projections (GroupFakeQuantLinear for QAT)."""

    def __init__(self, vocab, dim=128, layers=4, heads=4, kv_heads=2, inter=384, context=128, theta=10000.0,
                 eps=1e-5, linear=nn.Linear):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Block(dim, heads, kv_heads, inter, eps, linear) for _ in range(layers)])
        self.norm = RMSNorm(dim, eps)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
        head_dim = dim // heads
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
        freqs = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        self.register_buffer("mask", torch.full((context, context), float("-inf")).triu(1), persistent=False)

    def forward(self, ids):
        t = ids.shape[1]
        cos, sin, mask = self.cos[:t], self.sin[:t], self.mask[:t, :t]
        h = self.embed_tokens(ids)
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        return self.lm_head(self.norm(h))


def cosine_factor(step, warmup, total, min_ratio):
    """optim CosineSchedule: linear warmup from 0 (0-based step), then cosine down to min_ratio."""
    if step < warmup:
        return step / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def run_char_llama(args):
    corpus = fortunes_corpus()
    vocabulary = sorted(set(corpus))  # the char tokenizer: sorted distinct code points
    index = {c: i for i, c in enumerate(vocabulary)}
    tokens = torch.tensor([index[c] for c in corpus], dtype=torch.int64)
    cut = math.floor(0.9 * len(tokens))
    train, validation = tokens[:cut], tokens[cut:]
    batch, context = 16, 128
    model = Llama(len(vocabulary), context=context, linear=GroupFakeQuantLinear if args.qat else nn.Linear)
    params = list(model.parameters())
    lr = 3e-3
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    offsets = torch.arange(context + 1)
    seconds, window = 0.0, []
    for step in range(args.steps):
        start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr * cosine_factor(step, 100, args.steps, 0.0003 / 0.003)
        rows = train[torch.randint(0, len(train) - context, (batch, 1)) + offsets]  # starts in [0, n - context - 1]
        logits = model(rows[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        seconds += time.perf_counter() - start
        window.append(loss.item())
    # Validation as LanguageModelTask::evaluate: consecutive non-overlapping windows, eval_batches=20.
    windows = (len(validation) - 1) // context
    batches = min((windows + batch - 1) // batch, 20)
    loss_sum, counted = 0.0, 0
    with torch.no_grad():
        for b in range(batches):
            first = b * batch
            count = min(batch, windows - first)
            rows = validation[first * context:(first + count) * context + 1]
            inputs = rows[:-1].view(count, context)
            targets = rows[1:].view(count, context)
            logits = model(inputs)
            loss_sum += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).item() * count
            counted += count
    tail = window[-(args.steps % 50 or 50):]  # qforge's last log window (log_every 50)
    print(f"final: step={args.steps} train_loss={np.mean(tail):.4f} val_loss={loss_sum / counted:.4f} "
          f"tokens_per_second={args.steps * batch * context / seconds:.1f} step_ms={1000 * seconds / args.steps:.3f} "
          f"vocab={len(vocabulary)} "
          f"train_tokens={len(train)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["mlp", "char_llama"])
    parser.add_argument("--epochs", type=int, default=3, help="mlp: epochs (default 3)")
    parser.add_argument("--steps", type=int, default=2000, help="char_llama: steps (default 2000)")
    parser.add_argument("--qat", action="store_true", help="quantization-aware training (see above)")
    parser.add_argument("--fused", action="store_true", help="mlp --qat: FusedMovingAvgObsFakeQuantize modules")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    run_mlp(args) if args.mode == "mlp" else run_char_llama(args)


if __name__ == "__main__":
    main()
