"""PyTorch reference of GPTQ for tests/ptq/test_gptq.cpp, written for the tests from the paper (Frantar et al.
2022, Algorithm 1) and the conventions of the reference implementation that ptq/gptq.h states: float64
throughout; Hessian as a running mean of 2 x x^T over the same batches; per-row grid; dead inputs; damping;
upper Cholesky factor of H^-1; lazy batches; stale group scales; act-order with dynamic or static groups.

Request (QFT1, tests/support/tensor_file.h): per case "<case>/w" [rows, cols], "<case>/x" [n, cols],
"<case>/batches" (row counts of the batches), "<case>/config" [bits, symmetric, group_size, damp, block_size,
act_order, static_groups]. Answer: "<case>/h", "<case>/q" (dequantized), "<case>/codes", "<case>/g_idx",
"<case>/loss".
"""
import sys

import torch

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from torch_reference import read_qft, write_qft  # noqa: E402


def hessian(x, batches):
    h = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
    n, start = 0, 0
    for count in batches:
        rows = x[start : start + count]
        start += count
        h *= n / (n + count)
        n += count
        h += 2.0 / n * rows.t().matmul(rows)
    return h


def find_params(w, bits, sym):
    maxq = 2**bits - 1
    xmin = torch.clamp(w.min(1).values, max=0)
    xmax = torch.clamp(w.max(1).values, min=0)
    if sym:
        xmax = torch.maximum(xmin.abs(), xmax)
        xmin = torch.where(xmin < 0, -xmax, xmin)
    both = (xmin == 0) & (xmax == 0)
    xmin = torch.where(both, -torch.ones_like(xmin), xmin)
    xmax = torch.where(both, torch.ones_like(xmax), xmax)
    scale = (xmax - xmin) / maxq
    zero = torch.full_like(scale, (maxq + 1) / 2) if sym else torch.round(-xmin / scale)
    return scale, zero


def gptq(w, h, bits, sym, group, damp, block, act_order, static_groups):
    w, h = w.clone(), h.clone()
    rows, cols = w.shape
    maxq = 2**bits - 1
    scale, zero = find_params(w, bits, sym)
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    fixed = []
    if static_groups:
        fixed = [find_params(w[:, g : g + group], bits, sym) for g in range(0, cols, group)]
    perm = torch.arange(cols)
    if act_order:
        perm = torch.argsort(torch.diag(h), descending=True, stable=True)
        w, h = w[:, perm], h[perm][:, perm]
    h[range(cols), range(cols)] += damp * torch.mean(torch.diag(h))
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    codes = torch.zeros_like(w)
    loss = 0.0
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        for i in range(i2 - i1):
            j = i1 + i
            g = 0
            if group > 0:
                if static_groups:
                    g = int(perm[j]) // group
                    scale, zero = fixed[g]
                else:
                    g = j // group
                    if j % group == 0:
                        scale, zero = find_params(w[:, j : j + group], bits, sym)
            col = w1[:, i]
            code = torch.clamp(torch.round(col / scale) + zero, 0, maxq)
            deq = scale * (code - zero)
            q[:, j], codes[:, j] = deq, code
            d = u[j, j]
            loss += float(((col - deq) ** 2 / d**2).sum()) / 2
            e = (col - deq) / d
            w1[:, i:] -= e.unsqueeze(1).matmul(u[j, j:i2].unsqueeze(0))
            err1[:, i] = e
        w[:, i2:] -= err1.matmul(u[i1:i2, i2:])
    inverse = torch.argsort(perm)
    # g_idx as AutoGPTQ stores it: position // group in GPTQ's order, taken back to
    # the original columns (with static groups the original contiguous groups; one group without groups).
    position = torch.arange(cols)
    if group == 0:
        g_idx = torch.zeros(cols, dtype=torch.int64)
    elif static_groups:
        g_idx = position // group
    else:
        g_idx = (position // group)[inverse]
    return q[:, inverse], codes[:, inverse], g_idx.to(torch.float64), loss


def main():
    request = read_qft(sys.argv[1])
    answer = {}
    for case in sorted({name.split("/")[0] for name in request}):
        w, x = request[f"{case}/w"], request[f"{case}/x"]
        batches = [int(b) for b in request[f"{case}/batches"].tolist()]
        bits, sym, group, damp, block, act, static = request[f"{case}/config"].tolist()
        h = hessian(x, batches)
        q, codes, g_idx, loss = gptq(w, h, int(bits), bool(sym), int(group), damp, int(block), bool(act), bool(static))
        answer.update({f"{case}/h": h, f"{case}/q": q, f"{case}/codes": codes, f"{case}/g_idx": g_idx,
                       f"{case}/loss": torch.tensor([loss], dtype=torch.float64)})
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
