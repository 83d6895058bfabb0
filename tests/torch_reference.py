"""PyTorch reference for tests/autograd/test_torch_parity.cpp.

Reads a QFT1 file of op cases (expression, inputs, upstream gradient), evaluates each case in
float64 with autograd, and writes the outputs and input gradients to another QFT1 file. A case
that raises is answered with '<case>/error' so the C++ side reports it by name.
Format: see tests/support/tensor_file.h.
"""
import math
import struct
import sys
import traceback

import torch
import torch.nn.functional as F


def read_qft(path):
    records = {}
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"QFT1":
        raise ValueError(f"{path}: not a QFT1 file")
    (count,) = struct.unpack_from("<I", data, 4)
    pos = 8
    for _ in range(count):
        kind = data[pos]
        pos += 1
        (n,) = struct.unpack_from("<I", data, pos)
        name = data[pos + 4 : pos + 4 + n].decode()
        pos += 4 + n
        if kind == 1:
            (n,) = struct.unpack_from("<I", data, pos)
            records[name] = data[pos + 4 : pos + 4 + n].decode()
            pos += 4 + n
            continue
        (ndim,) = struct.unpack_from("<I", data, pos)
        dims = struct.unpack_from(f"<{ndim}q", data, pos + 4)
        pos += 4 + 8 * ndim
        numel = math.prod(dims)
        values = torch.tensor(struct.unpack_from(f"<{numel}d", data, pos), dtype=torch.float64)
        pos += 8 * numel
        records[name] = values.reshape(dims)
    return records


def write_qft(path, records):
    with open(path, "wb") as f:
        f.write(b"QFT1" + struct.pack("<I", len(records)))
        for name, value in records.items():
            encoded = name.encode()
            if isinstance(value, str):
                text = value.encode()
                f.write(struct.pack("<BI", 1, len(encoded)) + encoded + struct.pack("<I", len(text)) + text)
                continue
            value = value.detach().to(torch.float64).contiguous()
            f.write(struct.pack("<BI", 0, len(encoded)) + encoded)
            f.write(struct.pack(f"<I{value.dim()}q", value.dim(), *value.shape))
            f.write(struct.pack(f"<{value.numel()}d", *value.flatten().tolist()))


# ---- reference compositions for ops PyTorch 1.13 has no single function for ----

def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rope(x, theta=10000.0, offset=0):
    """Hugging Face Llama rotary embedding (rotate_half layout) on [batch, heads, seq, dim]."""
    seq, dim = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    positions = torch.arange(offset, offset + seq, dtype=torch.float64)
    angles = torch.outer(positions, inv_freq)
    emb = torch.cat([angles, angles], dim=-1)
    x1, x2 = x[..., : dim // 2], x[..., dim // 2 :]
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * emb.cos() + rotated * emb.sin()


def causal_attention(q, k, v, scale=None):
    heads, kv_heads, seq, dim = q.shape[1], k.shape[1], q.shape[2], q.shape[3]
    if heads != kv_heads:
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
    scale = scale if scale else 1.0 / math.sqrt(dim)
    scores = q @ k.transpose(-1, -2) * scale
    mask = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def dropout_mask(shape, p, seed):
    """qforge's documented dropout mask (autograd/ops/op_dropout.cpp), recomputed independently:
    keep element i when the top 32 bits of splitmix64(mix(seed) + (i + 1) * golden_gamma) are
    >= floor(p * 2^32), with p rounded to float32 as the C++ side receives it."""
    full = (1 << 64) - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & full
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & full
        return z ^ (z >> 31)

    p32 = struct.unpack("<f", struct.pack("<f", p))[0]
    key, threshold = mix(seed), int(math.ldexp(p32, 32))
    keep = [(mix((key + (i + 1) * 0x9E3779B97F4A7C15) & full) >> 32) >= threshold for i in range(math.prod(shape))]
    return torch.tensor(keep, dtype=torch.float64).reshape(shape)


def main(request_path, answer_path):
    request = read_qft(request_path)
    cases = sorted(name[: -len("/expr")] for name in request if name.endswith("/expr"))
    answer = {}
    for case in cases:
        try:
            kinds = request[case + "/kinds"]
            env = {"torch": torch, "F": F, "math": math, "rms_norm": rms_norm, "rope": rope,
                   "causal_attention": causal_attention, "dropout_mask": dropout_mask}
            inputs = []
            for i, kind in enumerate(kinds):
                x = request[f"{case}/x{i}"].clone()
                if kind == "i":
                    x = x.to(torch.int64)
                elif kind == "f":
                    x.requires_grad_(True)
                env[f"x{i}"] = x
                inputs.append(x)
            out = eval(request[case + "/expr"], env)
            answer[case + "/out"] = out
            out.backward(request[case + "/upstream"])
            for i, (x, kind) in enumerate(zip(inputs, kinds)):
                if kind == "f":
                    grad = x.grad if x.grad is not None else torch.zeros_like(x)
                    answer[f"{case}/grad{i}"] = grad
        except Exception:  # reported per case on the C++ side
            answer[case + "/error"] = traceback.format_exc()
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
