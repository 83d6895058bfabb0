"""NumPy reference of SpQR on one layer for tests/ptq/test_spqr.cpp, written for the tests from the paper
(Dettmers et al. 2023, SpQR, §3.2-3.3 and Algorithm 1) and the conventions ptq/spqr.h states (docs/spqr.md §2):
float64 except where the stored representation is narrower (second-order statistics fp16, first-order scale
and zero and dequantized values float32, outliers fp16); Hessian as a running mean of 2 x x^T; dead inputs;
act-order; damping; upper Cholesky factor U of H^-1; min-max fits without 0 and with a real zero; leave-one-out
outlier detection; outlier threshold tau * mean(Var(W[:, j]) / U_jj^2). Unlike ptq/spqr.cpp it updates all later
columns after every column (no lazy batches), which the paper says changes nothing.

Request (QFT1): per case "<case>/w" [rows, cols], "<case>/x" [n, cols], "<case>/batches", "<case>/config"
[bits, beta1, beta2, stat_bits, damp, act_order, tau (negative: infinity)]. Answer: "<case>/q" (dequantized,
original column order), "<case>/codes", "<case>/scale_codes", "<case>/zero_codes" [rows, groups],
"<case>/second_order" [row_blocks, groups, 4], "<case>/perm", "<case>/outliers" (flat indices, ascending),
"<case>/threshold".
"""
import sys

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from torch_reference import read_qft, write_qft  # noqa: E402

F32, F16 = np.float32, np.float16


def hessian(x, batches):
    h = np.zeros((x.shape[1], x.shape[1]))
    n, start = 0, 0
    for count in batches:
        rows = x[start : start + count]
        start += count
        h *= n / (n + count)
        n += count
        h += 2.0 / n * rows.T @ rows
    return h


def min_max(v, maxq):
    """Per row of v: SpQR's asymmetric fit (no 0 in the range, real zero, [-1, 1] for a constant row)."""
    lo, hi = v.min(axis=1), v.max(axis=1)
    same = lo == hi
    lo, hi = np.where(same, -1.0, lo), np.where(same, 1.0, hi)
    scale = (hi - lo) / maxq
    return scale, -lo / scale


def fake(v, scale, zero, maxq):
    q = np.clip(np.round(v / np.maximum(scale, 1e-9)[:, None] + zero[:, None]), 0, maxq)
    return scale[:, None] * (q - zero[:, None])


def group_fit(g, d, tau, maxq):
    """First-order scale and zero of every row of group g [rows, n] (leave-one-out outlier detection)."""
    rows, n = g.shape
    if np.isfinite(tau) and n > 1:
        base = (((fake(g, *min_max(g, maxq), maxq) - g) / d) ** 2).sum(axis=1)
        reduction = np.zeros((rows, n))
        for k in range(n):
            keep = [i for i in range(n) if i != k]
            others = g[:, keep]
            loo = (((fake(others, *min_max(others, maxq), maxq) - others) / d[keep]) ** 2).sum(axis=1)
            reduction[:, k] = base - loo
        likely = reduction > tau
        count = np.maximum((~likely).sum(axis=1), 1)
        mean = np.where(likely, 0.0, g).sum(axis=1) / count
        g = np.where(likely, mean[:, None], g)
    return min_max(g, maxq)


def second_order(values, stat_bits):
    """stat_bits-bit codes of a vector of statistics with its fp16 min-max scale and zero."""
    maxq = 2**stat_bits - 1
    scale, zero = min_max(values[None, :], maxq)
    scale, zero = F32(F16(scale[0])), F32(F16(zero[0]))
    codes = np.clip(np.round(values / max(float(scale), 1e-9) + float(zero)), 0, maxq)
    return codes, scale, zero


def spqr(w, h, bits, beta1, beta2, stat_bits, damp, act_order, tau):
    w, h = w.copy(), h.copy()
    rows, cols = w.shape
    maxq = 2**bits - 1
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    perm = np.argsort(-np.diag(h), kind="stable") if act_order else np.arange(cols)
    w, h = w[:, perm], h[perm][:, perm]
    h[range(cols), range(cols)] += damp * np.mean(np.diag(h))
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    d = np.diag(u)
    threshold = tau * np.mean(w.var(axis=0, ddof=1) / d**2) if np.isfinite(tau) else np.inf
    groups, blocks = -(-cols // beta1), -(-rows // beta2)
    scale_codes, zero_codes = np.zeros((rows, groups)), np.zeros((rows, groups))
    records = np.zeros((blocks, groups, 4))
    q, codes, outlier = np.zeros((rows, cols)), np.zeros((rows, cols)), np.zeros((rows, cols), dtype=bool)
    for j in range(cols):
        g = j // beta1
        if j % beta1 == 0:
            end = min(j + beta1, cols)
            s_raw, z_raw = group_fit(w[:, j:end], d[j:end], threshold, maxq)
            for b in range(blocks):
                r0, r1 = b * beta2, min((b + 1) * beta2, rows)
                scale_codes[r0:r1, g], ss, sz = second_order(s_raw[r0:r1], stat_bits)
                zero_codes[r0:r1, g], zs, zz = second_order(z_raw[r0:r1], stat_bits)
                records[b, g] = [ss, zs, sz, zz]
            rec = records[np.arange(rows) // beta2, g].astype(F32)
            scale = rec[:, 0] * (scale_codes[:, g].astype(F32) - rec[:, 2])  # float32, as the file's reader
            zero = rec[:, 1] * (zero_codes[:, g].astype(F32) - rec[:, 3])
        col = w[:, j]
        code = np.clip(np.round(col / np.maximum(scale.astype(np.float64), 1e-9) + zero.astype(np.float64)), 0, maxq)
        value = (scale * (code.astype(F32) - zero)).astype(np.float64)
        out = ((col - value) / d[j]) ** 2 > threshold
        zero_code = np.clip(np.round(0.0 / np.maximum(scale.astype(np.float64), 1e-9) + zero.astype(np.float64)), 0, maxq)
        value = np.where(out, col.astype(F16).astype(np.float64), value)
        code = np.where(out, zero_code, code)
        q[:, j], codes[:, j], outlier[:, j] = value, code, out
        e = (col - value) / d[j]
        w[:, j + 1 :] -= np.outer(e, u[j, j + 1 :])
    inverse = np.argsort(perm)
    outlier = outlier[:, inverse]
    flat = np.flatnonzero(outlier.reshape(-1))
    return q[:, inverse], codes[:, inverse], scale_codes, zero_codes, records, perm, flat, threshold


def main():
    request = read_qft(sys.argv[1])
    answer = {}
    for case in sorted({name.split("/")[0] for name in request}):
        w, x = request[f"{case}/w"].numpy(), request[f"{case}/x"].numpy()
        batches = [int(b) for b in request[f"{case}/batches"].tolist()]
        bits, beta1, beta2, stat_bits, damp, act, tau = request[f"{case}/config"].tolist()
        h = hessian(x, batches)
        result = spqr(w, h, int(bits), int(beta1), int(beta2), int(stat_bits), damp, bool(act), np.inf if tau < 0 else tau)
        names = ["q", "codes", "scale_codes", "zero_codes", "second_order", "perm", "outliers"]
        for name, value in zip(names, result):
            answer[f"{case}/{name}"] = torch.tensor(np.asarray(value, dtype=np.float64).reshape(-1) if name == "outliers" else np.asarray(value, dtype=np.float64))
        answer[f"{case}/threshold"] = torch.tensor([min(result[-1], 1e300)], dtype=torch.float64)
        answer[f"{case}/h"] = torch.tensor(h.reshape(-1), dtype=torch.float64)
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
