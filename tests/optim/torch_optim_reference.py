"""PyTorch reference for tests/optim/: optimiser trajectories, clip_grad_norm_ and LR schedules.

Reads a QFT1 request (tests/support/tensor_file.h) and writes a QFT1 answer. Record families:
  optim/<case>/ctor        Python expression building the optimiser from `params` (a list) or groups
  optim/<case>/p<i>        initial parameter i;  optim/<case>/frozen<i> present -> requires_grad False
  optim/<case>/steps       [1] number of steps
  optim/<case>/g<t>/<i>    gradient of parameter i at step t (absent -> grad None, step skips it)
  optim/<case>/lsq/X, Y    instead of given gradients: grad of mse_loss(X @ p0 + p1, Y) each step
  -> optim/<case>/p<i>/t<t> parameter i after step t
  clip/<case>/g<i>, clip/<case>/max_norm -> clip/<case>/norm and the clipped clip/<case>/g<i>
  sched/<case>/make        expression building a scheduler from `opt`; sched/<case>/steps [1]
  sched/<case>/base_lrs    base lr of each group
  -> sched/<case>/lr<g>    group g's lr used at optimiser steps 0..steps-1
Optimiser cases run in float32 as the C++ side does; clipping and schedules in float64/Python floats.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402


def cases(request, family):
    return sorted({name.split("/")[1] for name in request if name.startswith(family + "/")})


def run_optimizer(request, case, answer):
    key = f"optim/{case}/"
    params = []
    while f"{key}p{len(params)}" in request:
        i = len(params)
        p = request[f"{key}p{i}"].to(torch.float32).clone()
        p.requires_grad_(f"{key}frozen{i}" not in request)
        params.append(p)
    env = {"torch": torch, "params": params}
    opt = eval(request[key + "ctor"], env)
    steps = int(request[key + "steps"].item())
    for t in range(steps):
        opt.zero_grad(set_to_none=True)
        if key + "lsq/X" in request:
            X, Y = request[key + "lsq/X"].float(), request[key + "lsq/Y"].float()
            F.mse_loss(X @ params[0] + params[1], Y).backward()
        else:
            for i, p in enumerate(params):
                g = request.get(f"{key}g{t}/{i}")
                p.grad = None if g is None else g.to(torch.float32).clone()
        opt.step()
        for i, p in enumerate(params):
            answer[f"{key}p{i}/t{t}"] = p.detach().clone()


def run_clip(request, case, answer):
    key = f"clip/{case}/"
    params = []
    while f"{key}g{len(params)}" in request:
        g = request[f"{key}g{len(params)}"].clone()
        p = torch.zeros_like(g, requires_grad=True)
        p.grad = g
        params.append(p)
    norm = torch.nn.utils.clip_grad_norm_(params, float(request[key + "max_norm"].item()))
    answer[key + "norm"] = norm.reshape(1)
    for i, p in enumerate(params):
        answer[f"{key}g{i}"] = p.grad


def run_schedule(request, case, answer):
    key = f"sched/{case}/"
    base_lrs = request[key + "base_lrs"].tolist()
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in base_lrs]
    opt = torch.optim.SGD(groups, lr=base_lrs[0])
    env = {"torch": torch, "math": math, "opt": opt}
    scheduler = eval(request[key + "make"], env)
    lrs = [[] for _ in base_lrs]
    for _ in range(int(request[key + "steps"].item())):
        for g, group in enumerate(opt.param_groups):
            lrs[g].append(group["lr"])
        opt.step()
        scheduler.step()
    for g, values in enumerate(lrs):
        answer[f"{key}lr{g}"] = torch.tensor(values, dtype=torch.float64)


def main(request_path, answer_path):
    request = read_qft(request_path)
    answer = {}
    for case in cases(request, "optim"):
        run_optimizer(request, case, answer)
    for case in cases(request, "clip"):
        run_clip(request, case, answer)
    for case in cases(request, "sched"):
        run_schedule(request, case, answer)
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
