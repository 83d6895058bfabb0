"""PyTorch side of `make bench`: the same cases as bench/bench_cases.cpp, same protocol as
bench_server.cpp ("<case> <min_seconds>" in, "<case> <median_ms>" out). Run by bench/compare.py
with Debian's /usr/bin/python3 and a 2-thread environment."""
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


def param(*shape):
    return torch.randn(*shape, requires_grad=True)


def matmul_case(n):
    a, b, g = param(n, n), param(n, n), torch.randn(n, n)

    def step():
        a.grad = b.grad = None
        (a @ b).backward(g)
    return step


def elementwise_case():
    x, y, g = param(2048, 2048), param(2048, 2048), torch.randn(2048, 2048)

    def step():
        x.grad = y.grad = None
        (torch.sigmoid(x) * y + torch.tanh(x) * F.silu(y)).backward(g)
    return step


def cross_entropy_case():
    rows, classes = 4096, 2048
    logits = param(rows, classes)
    targets = torch.tensor([(i * 7919) % classes for i in range(rows)])

    def step():
        logits.grad = None
        F.cross_entropy(logits, targets).backward()
    return step


def rms_norm_case():
    x, w, g = param(8192, 1024), param(1024), torch.randn(8192, 1024)

    def step():
        x.grad = w.grad = None
        (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w).backward(g)
    return step


def attention_case():
    shape = (16, 4, 128, 32)
    q, k, v, g = param(*shape), param(*shape), param(*shape), torch.randn(*shape)
    mask = torch.ones(128, 128, dtype=torch.bool).triu(1)

    def step():
        q.grad = k.grad = v.grad = None
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(32))
        probs = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        (probs @ v).backward(g)
    return step


CASES = {f"matmul_{n}": (lambda n=n: matmul_case(n)) for n in (256, 512, 1024, 2048)}
CASES.update(elementwise_chain=elementwise_case, softmax_cross_entropy=cross_entropy_case,
             rmsnorm=rms_norm_case, attention=attention_case)


def median_ms(step, min_seconds):
    for _ in range(2):  # warm-up: allocator growth, first-touch pages, thread start
        step()
    samples, start = [], time.perf_counter()
    while len(samples) < 3 or (time.perf_counter() - start < min_seconds and len(samples) < 1000):
        t0 = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t0) * 1e3)
    return sorted(samples)[len(samples) // 2]


def sgemm_gflops(n=2048):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):  # warm-up: OpenBLAS thread start, page faults
        a @ b
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def main():
    prepared = {}
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        name = words[0]
        if name == "ping":  # answered once torch is imported, so start-up does not overlap timing
            print("ping 0", flush=True)
            continue
        if name == "sgemm":
            print(f"sgemm {sgemm_gflops():.1f}", flush=True)
            continue
        if name not in CASES:
            print(f"{name} error unknown-case", flush=True)
            continue
        if name not in prepared:
            prepared[name] = CASES[name]()
        print(f"{name} {median_ms(prepared[name], float(words[1]) if len(words) > 1 else 0.5):.4f}", flush=True)


if __name__ == "__main__":
    main()
