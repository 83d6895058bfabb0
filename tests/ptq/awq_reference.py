"""PyTorch reference of AWQ's two searches for tests/ptq/test_awq.cpp, written for the tests from the paper
(Lin et al. 2023, §3.2-3.3) and the conventions ptq/awq.h states: s = mean|x|^alpha clamped at 1e-4 and
normalised by sqrt(max * min), alpha on i/20, i = 0..19, loss = sum (X Q(W diag s)^T diag... - X W^T)^2 on
one layer's own output; clip ranges max|w_g| (1 - i/20), i = 0..9, per (row, group). Q is qforge's round to
nearest in float32 (fakequant/quant_math.h: min-max scale, x * (1/scale) rounded half to even).

Request (QFT1): "<case>/x" [n, cols], "<case>/w" [rows, cols], "<case>/config" [bits, symmetric, group].
Answer: "<case>/alpha", "<case>/scales", "<case>/losses", "<case>/clip" [rows, groups].
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from torch_reference import read_qft, write_qft  # noqa: E402

EPS = torch.finfo(torch.float32).eps


def fake_quantize(w, bits, sym, group):
    rows, cols = w.shape
    g = group if group > 0 else cols
    blocks = w.reshape(rows, cols // g, g)
    lo = blocks.min(-1, keepdim=True).values.clamp(max=0)
    hi = blocks.max(-1, keepdim=True).values.clamp(min=0)
    if sym:
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        scale = (torch.maximum(lo.abs(), hi.abs()) / qmax).clamp(min=EPS)
        zero = torch.zeros_like(scale)
    else:
        qmin, qmax = 0, 2**bits - 1
        scale = ((hi - lo) / (qmax - qmin)).clamp(min=EPS)
        zero = torch.clamp(torch.round(qmin - lo / scale), qmin, qmax)
    code = torch.clamp(torch.round(blocks * (1.0 / scale)) + zero, qmin, qmax)
    return ((code - zero) * scale).reshape(rows, cols)


def scales_for(mean, alpha):
    s = mean.pow(torch.tensor(alpha, dtype=torch.float32)).clamp(min=1e-4)
    return s / torch.sqrt(s.max() * s.min())


def search_scales(x, w, bits, sym, group):
    mean = x.double().abs().mean(0).float()
    reference = x.double() @ w.double().t()
    best, losses = None, []
    for i in range(20):
        s = scales_for(mean, i / 20)
        q = fake_quantize(w * s, bits, sym, group) / s
        loss = float(((x.double() @ q.double().t() - reference) ** 2).sum())
        losses.append(loss)
        if best is None or loss < best[0]:
            best = (loss, i / 20, s)
    return best[1], best[2], losses


def search_clip(x, w, bits, sym, group):
    rows, cols = w.shape
    g = group if group > 0 else cols
    out = torch.zeros(rows, cols // g, dtype=torch.float32)
    for r in range(rows):
        for k in range(cols // g):
            wg = w[r, k * g : (k + 1) * g]
            xg = x[:, k * g : (k + 1) * g].double()
            m0 = wg.abs().max()
            best = None
            for i in range(10):
                m = m0 * (torch.tensor(1.0, dtype=torch.float32) - torch.tensor(float(i), dtype=torch.float32) / 20)
                q = fake_quantize(torch.clamp(wg, -m, m).reshape(1, g), bits, sym, 0).reshape(g)
                err = float(((xg @ (wg.double() - q.double())) ** 2).sum())
                if best is None or err < best[0]:
                    best = (err, m)
            out[r, k] = best[1]
    return out


def main():
    request = read_qft(sys.argv[1])
    answer = {}
    for case in sorted({name.split("/")[0] for name in request}):
        x, w = request[f"{case}/x"].float(), request[f"{case}/w"].float()
        bits, sym, group = (int(v) for v in request[f"{case}/config"].tolist())
        alpha, scales, losses = search_scales(x, w, bits, bool(sym), group)
        answer[f"{case}/alpha"] = torch.tensor([alpha], dtype=torch.float64)
        answer[f"{case}/scales"] = scales
        answer[f"{case}/losses"] = torch.tensor(losses, dtype=torch.float64)
        answer[f"{case}/clip"] = search_clip(x, w, bits, bool(sym), group)
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
