"""Independent reference of QuIP# for tests/ptq/test_quip_sharp.cpp, written for the tests from the paper
(Tseng et al. 2024, QuIP#: §3 RHT, §4 BlockLDLQ, E8P) and the codebook layout of docs/quip_sharp.md, in
float64 with dense matrices: explicit Hadamard matrices (Sylvester by Kronecker powers, Paley's construction
for 12 and 20), the E8P codebook enumerated from its definition, a brute-force argmin over all 65536
codewords, block LDL from torch's Cholesky.

Request (QFT1, tests/support/tensor_file.h): "codebook" (any value) asks for the codebook; per case
"<case>/w" [rows, cols], "<case>/h" [cols, cols], "<case>/su" [cols], "<case>/sv" [rows], "<case>/config"
[damp, opt_scale, tune_iterations]. Answer: "codebook" [65536, 8], "abs_rows" [256, 8]; "<case>/codes" [rows, cols / 8],
"<case>/weight" (the effective dense weight), "<case>/wscale", "<case>/proxy_loss", "<case>/hadamard_in"
[cols, cols] (the normalized transform matrix T_in).
"""
import itertools
import sys

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from torch_reference import read_qft, write_qft  # noqa: E402

NORM12 = [  # the 29 listed extra abs rows (five 3/2, three 1/2), doubled
    [3, 1, 1, 1, 3, 3, 3, 3], [1, 3, 1, 1, 3, 3, 3, 3], [1, 1, 3, 1, 3, 3, 3, 3], [1, 1, 1, 3, 3, 3, 3, 3],
    [3, 3, 3, 1, 3, 3, 1, 1], [3, 3, 3, 1, 3, 1, 3, 1], [3, 3, 3, 1, 1, 3, 3, 1], [3, 3, 3, 1, 3, 1, 1, 3],
    [3, 3, 3, 1, 1, 3, 1, 3], [3, 3, 3, 1, 1, 1, 3, 3], [3, 3, 1, 3, 3, 3, 1, 1], [3, 3, 1, 3, 3, 1, 3, 1],
    [3, 3, 1, 3, 1, 3, 3, 1], [3, 3, 1, 3, 3, 1, 1, 3], [3, 3, 1, 3, 1, 3, 1, 3], [3, 3, 1, 3, 1, 1, 3, 3],
    [3, 1, 3, 3, 3, 3, 1, 1], [3, 1, 3, 3, 3, 1, 3, 1], [3, 1, 3, 3, 1, 3, 3, 1], [3, 1, 3, 3, 3, 1, 1, 3],
    [3, 1, 3, 3, 1, 3, 1, 3], [1, 3, 3, 3, 1, 1, 3, 3], [1, 3, 3, 3, 3, 3, 1, 1], [1, 3, 3, 3, 3, 1, 3, 1],
    [1, 3, 3, 3, 1, 3, 3, 1], [1, 3, 3, 3, 3, 1, 1, 3], [1, 3, 3, 3, 1, 3, 1, 3], [1, 1, 3, 3, 1, 3, 3, 3],
    [3, 3, 1, 1, 3, 3, 3, 1],
]


def abs_rows():
    # D8 + 1/2 (doubled: odd integers) with an even coordinate sum and norm^2 <= 10; their absolute values,
    # unique and sorted; then the 29 extras.
    odd = np.array([-5, -3, -1, 1, 3, 5])  # |v| <= 2.5 inside radius sqrt(10)
    v = np.array(list(itertools.product(odd, repeat=8)), dtype=np.int64)
    keep = ((v.sum(1) // 2) % 2 == 0) & ((v * v).sum(1) <= 40)
    rows = np.unique(np.abs(v[keep]), axis=0)
    assert len(rows) == 227, len(rows)
    return np.concatenate([rows, np.array(NORM12)], 0) / 2.0


def codebook(rows):
    codes = np.arange(1 << 16)
    byte = codes & 255
    parity = np.array([bin(b).count("1") & 1 for b in range(256)])[byte]
    signs = byte ^ parity
    a = rows[codes >> 8].copy()
    odd_sum = (a.sum(1) % 2) == 1
    a[odd_sum, 7] *= -1
    shuffle = [0, 4, 1, 5, 2, 6, 3, 7]
    for i in range(8):
        a[:, i] *= np.where((signs >> shuffle[i]) & 1, -1.0, 1.0)
    return a + np.where(parity, -0.25, 0.25)[:, None]


def paley(order):
    q = order - 1
    residues = {(x * x) % q for x in range(1, q)}
    chi = lambda d: 0 if d % q == 0 else (1 if d % q in residues else -1)  # noqa: E731
    h = np.zeros((order, order))
    h[0, 1:], h[1:, 0] = 1, -1
    for i in range(1, order):
        for j in range(1, order):
            h[i, j] = chi(j - i)
    return h + np.eye(order)


def hadamard(n):
    k = 1
    while n % 2 == 0 and (n & (n - 1)) != 0:  # strip powers of two until the Paley factor is left
        for cand in (12, 20):
            if n % cand == 0 and ((n // cand) & (n // cand - 1)) == 0:
                k = cand
        break
    m = n // k
    s = np.array([[1.0]])
    while s.shape[0] < m:
        s = np.kron(s, np.array([[1.0, 1.0], [1.0, -1.0]]))
    big = np.kron(paley(k), s) if k > 1 else s
    assert np.allclose(big @ big.T, n * np.eye(n))
    return torch.tensor(big / np.sqrt(n))


def block_ldl(h, b=8):
    n = h.shape[0]
    l = torch.linalg.cholesky(h)
    for k in range(0, n, b):
        l[:, k : k + b] = l[:, k : k + b] @ torch.linalg.inv(l[k : k + b, k : k + b])
    return l


def nearest(target, cb, norms):
    idx = (norms[None, :] - 2 * target @ cb.T).argmin(1)
    return idx.to(torch.float64), cb[idx]


def quip_sharp(w, h, su, sv, damp, opt_scale, tune, cb):
    rows, cols = w.shape
    t_in, t_out = hadamard(cols), hadamard(rows)
    wp = t_out @ torch.diag(sv) @ w @ torch.diag(su) @ t_in.T
    hp = t_in @ torch.diag(su) @ h @ torch.diag(su) @ t_in.T
    hp = (hp + hp.T) / 2
    hp += damp * torch.diag(hp).mean() * torch.eye(cols, dtype=torch.float64)
    # Stored as float32 (fakequant/quip_sharp_weight.h), and the rounding divides by the stored value.
    wscale = (wp.square().mean().sqrt() / opt_scale).float().double()
    wn = wp / wscale
    l = block_ldl(hp)
    q = torch.zeros_like(wn)
    codes = torch.zeros(rows, cols // 8, dtype=torch.float64)
    norms = (cb * cb).sum(1)
    for k in reversed(range(cols // 8)):
        c = slice(8 * k, 8 * k + 8)
        target = wn[:, c] + (wn[:, 8 * k + 8 :] - q[:, 8 * k + 8 :]) @ l[8 * k + 8 :, c]
        codes[:, k], q[:, c] = nearest(target, cb, norms)
    for _ in range(tune):  # block coordinate descent on the proxy loss (quip-sharp quip_tune_iters)
        for k in reversed(range(cols // 8)):
            c = slice(8 * k, 8 * k + 8)
            target = q[:, c] + (wn - q) @ hp[:, c] @ torch.linalg.inv(hp[c, c])
            codes[:, k], q[:, c] = nearest(target, cb, norms)
    e = wp - wscale * q
    loss = (e @ hp * e).sum()
    weight = torch.diag(sv) @ t_out.T @ (wscale * q) @ t_in @ torch.diag(su)
    return codes, weight, wscale, loss, t_in


def main():
    request = read_qft(sys.argv[1])
    rows = abs_rows()
    cb = codebook(rows)
    answer = {}
    if "codebook" in request:
        answer["codebook"], answer["abs_rows"] = torch.tensor(cb), torch.tensor(rows)
    cb = torch.tensor(cb)
    for case in sorted({name.split("/")[0] for name in request if "/" in name}):
        damp, opt_scale, tune = request[f"{case}/config"].tolist()
        codes, weight, wscale, loss, t_in = quip_sharp(request[f"{case}/w"], request[f"{case}/h"], request[f"{case}/su"],
                                                       request[f"{case}/sv"], damp, opt_scale, int(tune), cb)
        answer.update({f"{case}/codes": codes, f"{case}/weight": weight, f"{case}/wscale": wscale.reshape(1),
                       f"{case}/proxy_loss": loss.reshape(1), f"{case}/hadamard_in": t_in})
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
