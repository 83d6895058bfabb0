#!/usr/bin/env python3
"""ptq_awq: qforge's AWQ searches on one MLP block against a PyTorch AWQ search on the same data and 2 cores.

The block is a Llama gate/up pair, out = silu(x Wg^T) * (x Wu^T), the group llm-awq scales together from the
post-attention norm (Lin et al. 2023, §3.2-3.3). The PyTorch side follows mit-han-lab/llm-awq's algorithm,
written for this bench: auto_scale's _search_module_scale (s = mean|x|^alpha, clamped at 1e-4 and divided by
sqrt(max * min), alpha = i / 20 for i < 20, loss = mean squared error of the block's output with every weight
replaced by Q(W diag s) / s) and auto_clip_layer (512 tokens sampled as x[0::n // 512] of the scaled inputs,
256 output channels at a time, max|w_g| (1 - i / 20) for i < 10, the group output error averaged over the
tokens). llm-awq computes a group's output as (input_feat * w).sum(-1) over a broadcast
[tokens, channels, groups, group] tensor; here the same sums are a batched matmul (BLAS instead of a
materialised broadcast product: the stronger baseline on a CPU). Q is qforge's integer grid
(fakequant/quant_math.h: min-max scale per group of 128, the range including 0, x * (1 / scale) rounded half
to even), so both sides search the same function. Both read the same raw float32 files and run alternately;
the line printed is
    ptq_awq hidden=H inter=I tokens=T qforge_s=... torch_s=... ratio=... (torch / qforge, median)
            alpha=... same_alpha=1 loss_ratio=...
where loss_ratio is qforge's final output error over PyTorch's (1.0 when both pick the same scales and clips).
"""
import argparse
import os
import statistics
import subprocess
import time

import numpy as np

from ptq_gptq import check_torch_speed, fair_torch_env, make_data

K_MIN_SCALE = 1.1920928955078125e-07  # fakequant/quant_math.h kMinScale


def make_weight(folder, rows, cols, seed):
    path = os.path.join(folder, f"w_{rows}x{cols}_seed{seed}.f32")
    if not os.path.exists(path):
        np.random.default_rng(seed).normal(0.0, 0.02, (rows, cols)).astype(np.float32).tofile(path + ".tmp")
        os.replace(path + ".tmp", path)
    return path


def pseudo_quantize(torch, w, bits, asym):
    """Q of every row of w's last dimension on qforge's grid (fakequant/quant_math.cpp choose_scale)."""
    if asym:
        qmin, qmax = 0, 2**bits - 1
        low, high = w.amin(dim=-1, keepdim=True).clamp(max=0), w.amax(dim=-1, keepdim=True).clamp(min=0)
        scale = ((high - low) / (qmax - qmin)).clamp(min=K_MIN_SCALE)
        zero = torch.round(qmin - low / scale).clamp(qmin, qmax)
    else:
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        scale = (w.abs().amax(dim=-1, keepdim=True) / qmax).clamp(min=K_MIN_SCALE)
        zero = torch.zeros_like(scale)
    return (torch.clamp(torch.round(w * (1 / scale)) + zero, qmin, qmax) - zero) * scale


def quantize_weight(torch, w, bits, group, asym):
    return pseudo_quantize(torch, w.reshape(-1, group), bits, asym).reshape(w.shape)


def block(torch, x, wg, wu):
    return torch.nn.functional.silu(x @ wg.t()) * (x @ wu.t())


def search_scale(torch, x, wg, wu, bits, group, asym):
    org_out = block(torch, x, wg, wu)
    x_max = x.abs().view(-1, x.shape[-1]).mean(0)
    best_error, best_ratio, best_scales = float("inf"), -1, None
    for i in range(20):
        ratio = i / 20
        scales = x_max.pow(ratio).clamp(min=1e-4).view(-1)
        scales = scales / (scales.max() * scales.min()).sqrt()
        qg = quantize_weight(torch, wg * scales.view(1, -1), bits, group, asym) / scales.view(1, -1)
        qu = quantize_weight(torch, wu * scales.view(1, -1), bits, group, asym) / scales.view(1, -1)
        loss = (org_out - block(torch, x, qg, qu)).float().pow(2).mean().item()
        if loss < best_error:
            best_error, best_ratio, best_scales = loss, ratio, scales
    return best_ratio, best_scales, org_out


def auto_clip(torch, w, x, bits, group, asym, n_grid=20, max_shrink=0.5, n_sample_token=512, oc_batch=256):
    rows = w.shape[0]
    feat = x.reshape(x.shape[0], -1, group)[0 :: max(1, x.shape[0] // n_sample_token)]  # [t, n_group, group]
    feat = feat.permute(1, 2, 0).contiguous()  # [n_group, group, t]
    grouped = w.reshape(rows, -1, group)
    best_all = []
    for b in range(0, rows, oc_batch):
        wb = grouped[b : b + oc_batch]  # [oc, n_group, group]
        org_max = wb.abs().amax(dim=-1, keepdim=True)
        best, min_errs = org_max.clone(), torch.full_like(org_max, 1e9)
        org_out = torch.matmul(wb.transpose(0, 1), feat)  # [n_group, oc, t]
        for i_s in range(int(max_shrink * n_grid)):
            max_val = org_max * (1 - i_s / n_grid)
            q = pseudo_quantize(torch, torch.clamp(wb, -max_val, max_val), bits, asym)
            cur_out = torch.matmul(q.transpose(0, 1), feat)
            err = (cur_out - org_out).pow(2).mean(dim=-1).transpose(0, 1).unsqueeze(-1)  # [oc, n_group, 1]
            better = err < min_errs
            min_errs[better] = err[better]
            best[better] = max_val[better]
        best_all.append(best)
    best = torch.cat(best_all, dim=0)
    return torch.clamp(grouped, -best, best).reshape(w.shape)


def torch_awq(paths, tokens, hidden, inter, bits, group, asym):
    import torch
    x = torch.from_numpy(np.fromfile(paths[0], dtype=np.float32, count=tokens * hidden).reshape(tokens, hidden))
    wg, wu = (torch.from_numpy(np.fromfile(p, dtype=np.float32, count=inter * hidden).reshape(inter, hidden)) for p in paths[1:])
    with torch.no_grad():
        start = time.perf_counter()
        alpha, scales, org_out = search_scale(torch, x, wg, wu, bits, group, asym)
        scale_s = time.perf_counter() - start
        start = time.perf_counter()
        xs, gs, us = x / scales.view(1, -1), wg * scales.view(1, -1), wu * scales.view(1, -1)
        gs, us = auto_clip(torch, gs, xs, bits, group, asym), auto_clip(torch, us, xs, bits, group, asym)
        clip_s = time.perf_counter() - start
        out = block(torch, xs, quantize_weight(torch, gs, bits, group, asym), quantize_weight(torch, us, bits, group, asym))
        loss = (org_out - out).pow(2).mean().item()
    return scale_s, clip_s, alpha, loss


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    # The 150M bench shape's MLP (bench/ptq_model.py: dim 1024, ffn 2816) with 2048 calibration tokens:
    # about 30 s of PyTorch on 2 quiet cores.
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--inter", type=int, default=2816)
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group", type=int, default=128)
    parser.add_argument("--sym", action="store_true", help="symmetric grid (default: asymmetric, llm-awq's zero_point)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-sgemm-gflops", type=float, default=100, help="refuse to run below this PyTorch sgemm speed")
    args = parser.parse_args()
    fair_torch_env()
    check_torch_speed("ptq_awq", args.min_sgemm_gflops)
    folder = os.path.join(args.build, "bench-ptq")
    x_path, wg_path = make_data(folder, args.tokens, args.inter, args.hidden)
    paths = [x_path, wg_path, make_weight(folder, args.inter, args.hidden, 1)]
    binary = os.path.join(args.build, "bench", "ptq_awq")
    asym = not args.sym
    ours, theirs = [], []
    for _ in range(args.repeats):
        out = subprocess.run([binary, *paths, str(args.tokens), str(args.hidden), str(args.inter), str(args.bits),
                              str(args.group), str(int(asym))], check=True, capture_output=True, text=True).stdout
        fields = dict(kv.split("=") for kv in out.split())
        ours.append(float(fields["scale_s"]) + float(fields["clip_s"]))
        scale_s, clip_s, alpha, loss = torch_awq(paths, args.tokens, args.hidden, args.inter, args.bits, args.group, asym)
        theirs.append(scale_s + clip_s)
        print(f"ptq_awq run qforge scale {fields['scale_s']} s clip {fields['clip_s']} s alpha {fields['alpha']} "
              f"loss {fields['loss']} (rtn {fields['rtn_loss']}) | torch scale {scale_s:.3f} s clip {clip_s:.3f} s "
              f"alpha {alpha:.2f} loss {loss:.6g}", flush=True)
    same_alpha = int(abs(float(fields["alpha"]) - alpha) < 1e-9)
    ratio = statistics.median(t / o for t, o in zip(theirs, ours))
    print(f"ptq_awq hidden={args.hidden} inter={args.inter} tokens={args.tokens} w{args.bits} g{args.group} "
          f"{'asym' if asym else 'sym'} qforge_s={statistics.median(ours):.2f} torch_s={statistics.median(theirs):.2f} "
          f"ratio={ratio:.2f} alpha={alpha:.2f} same_alpha={same_alpha} loss_ratio={float(fields['loss']) / loss:.4f}")


if __name__ == "__main__":
    main()
