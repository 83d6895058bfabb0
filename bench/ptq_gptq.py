#!/usr/bin/env python3
"""ptq_gptq: qforge's GPTQ on one layer against a PyTorch GPTQ on the same data and 2 cores (issue 16).

The PyTorch side is the reference implementation's structure written for this bench (Frantar et al. 2022,
Algorithm 1, as IST-DASLab/gptq runs it): float32 Hessian as a running mean of 2 x x^T by addmm per batch,
Cholesky, cholesky_inverse, upper Cholesky of H^-1, columns in a Python loop inside blocks of 128 with the
lazy batch update. Both sides read the same raw float32 files (calibration rows X [tokens, cols], weight W
[rows, cols]; generated once, with a few large-magnitude input channels as in real LLM activations), and
are run alternately; the line printed is
    ptq_gptq rows=R cols=C tokens=T qforge_s=... torch_s=... ratio=... (torch / qforge, median) loss_ratio=...
where loss_ratio is qforge's GPTQ proxy error over PyTorch's (1.0 when both do the same work).
"""
import argparse
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def check_torch_speed(bench, min_gflops):
    """PyTorch's sgemm at n=2048 on 2 threads, printed; exits when below min_gflops (the reference BLAS,
    ~5 GFLOP/s, or a busy machine), so no ratio is quoted against a crippled baseline."""
    import torch
    torch.set_num_threads(2)
    a = torch.randn(2048, 2048)
    start = time.perf_counter()
    for _ in range(3):
        a @ a
    gflops = 3 * 2 * 2048**3 / (time.perf_counter() - start) / 1e9
    print(f"{bench} torch sgemm {gflops:.0f} GFLOP/s at n=2048")
    if gflops < min_gflops:
        sys.exit(f"{bench}: PyTorch runs on a slow BLAS (install libopenblas0) or a busy machine: no fair ratio")


def fair_torch_env():
    os.environ.update(OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="2")
    os.environ.pop("OPENBLAS_CORETYPE", None)


def make_data(folder, tokens, rows, cols):
    x_path, w_path = os.path.join(folder, f"x_{tokens}x{cols}.f32"), os.path.join(folder, f"w_{rows}x{cols}.f32")
    if os.path.exists(x_path) and os.path.exists(w_path):
        return x_path, w_path
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    channel = np.exp(rng.normal(0.0, 0.5, cols)).astype(np.float32)
    channel[rng.choice(cols, max(1, cols // 256), replace=False)] *= 20.0  # outlier channels
    mix = (rng.normal(0.0, 1.0, (64, cols)) / 8.0).astype(np.float32)  # shared directions: a correlated H
    with open(x_path + ".tmp", "wb") as f:
        for start in range(0, tokens, 4096):
            n = min(4096, tokens - start)
            x = rng.normal(0.0, 1.0, (n, cols)).astype(np.float32)
            x += rng.normal(0.0, 1.0, (n, 64)).astype(np.float32) @ mix
            (x * channel).astype(np.float32).tofile(f)
    os.replace(x_path + ".tmp", x_path)
    (rng.normal(0.0, 0.02, (rows, cols))).astype(np.float32).tofile(w_path)
    return x_path, w_path


def torch_gptq(x_path, w_path, tokens, rows, cols, batch, bits, group):
    import torch
    x = torch.from_numpy(np.fromfile(x_path, dtype=np.float32, count=tokens * cols).reshape(tokens, cols))
    w = torch.from_numpy(np.fromfile(w_path, dtype=np.float32, count=rows * cols).reshape(rows, cols)).clone()
    start = time.perf_counter()
    h, n = torch.zeros(cols, cols), 0
    for t in range(0, tokens, batch):
        inp = x[t : t + batch]
        h *= n / (n + inp.shape[0])
        n += inp.shape[0]
        inp = math.sqrt(2 / n) * inp
        h.addmm_(inp.t(), inp)
    hessian_s = time.perf_counter() - start
    start = time.perf_counter()
    loss = gptq_layer(torch, w, h, bits, group)
    return hessian_s, time.perf_counter() - start, loss


def grid(torch, w, bits):
    maxq = 2**bits - 1
    xmax = torch.maximum(w.min(1).values.clamp(max=0).abs(), w.max(1).values.clamp(min=0))
    xmax = torch.where(xmax == 0, torch.ones_like(xmax), xmax)
    scale = 2 * xmax / maxq
    return scale.unsqueeze(1), torch.full_like(scale, (maxq + 1) / 2).unsqueeze(1), maxq


def gptq_layer(torch, w, h, bits, group, block=128):
    cols = w.shape[1]
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += 0.01 * torch.mean(torch.diag(h)) * torch.eye(cols)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    scale, zero, maxq = grid(torch, w, bits)
    losses = torch.zeros(w.shape[0])
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1, err1, hinv1 = w[:, i1:i2].clone(), torch.zeros(w.shape[0], i2 - i1), hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            if group > 0 and (i1 + i) % group == 0:
                scale, zero, _ = grid(torch, w[:, i1 + i : i1 + i + group], bits)
            col, d = w1[:, i], hinv1[i, i]
            q = scale[:, 0] * (torch.clamp(torch.round(col / scale[:, 0]) + zero[:, 0], 0, maxq) - zero[:, 0])
            losses += (col - q) ** 2 / d**2 / 2
            err = (col - q) / d
            w1[:, i:] -= err.unsqueeze(1).matmul(hinv1[i, i:].unsqueeze(0))
            err1[:, i] = err
        w[:, i2:] -= err1.matmul(hinv[i1:i2, i2:])
    return float(losses.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--cols", type=int, default=4096)
    parser.add_argument("--tokens", type=int, default=65536)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    fair_torch_env()
    check_torch_speed("ptq_gptq", 100)
    x_path, w_path = make_data(os.path.join(args.build, "bench-ptq"), args.tokens, args.rows, args.cols)
    binary = os.path.join(args.build, "bench", "ptq_gptq")
    ours, theirs, loss_ratio = [], [], None
    for _ in range(args.repeats):
        out = subprocess.run([binary, x_path, w_path, str(args.tokens), str(args.rows), str(args.cols), str(args.batch),
                              str(args.bits), str(args.group)], check=True, capture_output=True, text=True).stdout
        fields = dict(kv.split("=") for kv in out.split())
        ours.append(float(fields["hessian_s"]) + float(fields["gptq_s"]))
        h_s, g_s, loss = torch_gptq(x_path, w_path, args.tokens, args.rows, args.cols, args.batch, args.bits, args.group)
        theirs.append(h_s + g_s)
        loss_ratio = float(fields["loss"]) / loss
        print(f"ptq_gptq run qforge hessian {fields['hessian_s']} s gptq {fields['gptq_s']} s | "
              f"torch hessian {h_s:.3f} s gptq {g_s:.3f} s", flush=True)
    ratio = statistics.median(t / o for t, o in zip(theirs, ours))
    print(f"ptq_gptq rows={args.rows} cols={args.cols} tokens={args.tokens} w{args.bits} g{args.group} "
          f"qforge_s={statistics.median(ours):.2f} torch_s={statistics.median(theirs):.2f} ratio={ratio:.2f} "
          f"loss_ratio={loss_ratio:.4f}")


if __name__ == "__main__":
    main()
