"""PyTorch reference for tests/fakequant/test_fake_quant_op.cpp: values and gradients of the FakeQuant op.

Reads a QFT1 request (tests/support/tensor_file.h) and writes a QFT1 answer. Everything runs in float32.
Affine / learnable cases <c> (prefix "pt/"):
  pt/<c>/x, pt/<c>/dy          input and upstream gradient
  pt/<c>/scale, pt/<c>/zero_point   [n] float values
  pt/<c>/range                 [2] quant_min, quant_max
  pt/<c>/axis                  [1] channel axis, -1 for the per-tensor ops
  pt/<c>/learnable             [1] 0: torch.fake_quantize_per_{tensor,channel}_affine (clipped STE),
                                   1: torch._fake_quantize_learnable_per_{tensor,channel}_affine (LSQ / LSQ+)
  pt/<c>/grad_factor           [1] LSQ gradient scale g (learnable only)
  -> pt/<c>/y, pt/<c>/dx, and for learnable cases pt/<c>/dscale, pt/<c>/dzero_point
PACT cases <c> (prefix "pact/"), a hand-written autograd reference of Choi et al. 2018 §2:
  pact/<c>/x, pact/<c>/dy, pact/<c>/alpha [1], pact/<c>/symmetric [1], pact/<c>/qmax [1]
  y = clip(x, low, alpha) with torch.where (so dy reaches alpha where x >= alpha, and -dy where
  x <= -alpha on the symmetric grid), quantized with steps alpha / qmax through a detached (STE) round.
  -> pact/<c>/y (no-STE forward value), pact/<c>/dx, pact/<c>/dalpha
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402


def affine_case(request, case):
    key = f"pt/{case}/"
    x = request[key + "x"].to(torch.float32).requires_grad_()
    dy = request[key + "dy"].to(torch.float32)
    scale = request[key + "scale"].to(torch.float32)
    zero_point = request[key + "zero_point"].to(torch.float32)
    qmin, qmax = (int(v) for v in request[key + "range"].tolist())
    axis = int(request[key + "axis"].item())
    learnable = bool(request[key + "learnable"].item())
    answer = {}
    if learnable:
        g = float(request[key + "grad_factor"].item())
        scale.requires_grad_()
        zero_point.requires_grad_()
        if axis < 0:
            y = torch._fake_quantize_learnable_per_tensor_affine(x, scale, zero_point, qmin, qmax, g)
        else:
            y = torch._fake_quantize_learnable_per_channel_affine(x, scale, zero_point, axis, qmin, qmax, g)
    elif axis < 0:
        y = torch.fake_quantize_per_tensor_affine(x, float(scale.item()), int(zero_point.item()), qmin, qmax)
    else:
        y = torch.fake_quantize_per_channel_affine(x, scale, zero_point.to(torch.int32), axis, qmin, qmax)
    y.backward(dy)
    answer[key + "y"] = y
    answer[key + "dx"] = x.grad
    if learnable:
        answer[key + "dscale"] = scale.grad
        answer[key + "dzero_point"] = zero_point.grad
    return answer


def pact_case(request, case):
    key = f"pact/{case}/"
    x = request[key + "x"].to(torch.float32).requires_grad_()
    dy = request[key + "dy"].to(torch.float32)
    alpha = request[key + "alpha"].to(torch.float32).requires_grad_()
    symmetric = bool(request[key + "symmetric"].item())
    qmax = torch.tensor(float(request[key + "qmax"].item()), dtype=torch.float32)
    step = alpha.detach() / qmax
    inv_step = 1.0 / step
    a = alpha.expand_as(x)
    low = -a if symmetric else torch.zeros_like(x)
    below = x <= -a if symmetric else x < 0
    clipped = torch.where(x >= a, a, torch.where(below, low, x))
    quantized = torch.round(clipped * inv_step) * step
    y = clipped + (quantized - clipped).detach()  # STE: d round(u) / du = 1
    y.backward(dy)
    return {key + "y": quantized, key + "dx": x.grad, key + "dalpha": alpha.grad}


def main():
    request = read_qft(sys.argv[1])
    answer = {}
    for case in sorted({name.split("/")[1] for name in request if name.startswith("pt/")}):
        answer.update(affine_case(request, case))
    for case in sorted({name.split("/")[1] for name in request if name.startswith("pact/")}):
        answer.update(pact_case(request, case))
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
