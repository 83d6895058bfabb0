"""PyTorch reference for tests/fakequant/test_fake_quant_seq.cpp: ParetoQ's stretched elastic quant.

SEQ (Liu et al. 2025, "ParetoQ", §3; reference StretchedElasticQuant in facebookresearch/ParetoQ
models/utils_quant.py), written here from its stated rule, in float32, with one alpha per row of x
viewed as [rows, row_length] (per tensor: one row; per channel 0 of a 2-D weight: its rows; per group:
rows of the group size):
  v = x / alpha,  q = (round(clamp(v, -0.99, 0.99) * n - shift) + shift) / n,  y = q * alpha
  dx = dy where -0.99 <= v <= 0.99, else 0
  dalpha = sum over the row of g * dy * (inside ? q - v : (v < 0 ? -top : top)),  top = (n - shift) / n
Request (QFT1, tests/support/tensor_file.h), per case <c> (prefix "seq/"):
  seq/<c>/x [rows, len], seq/<c>/dy [rows, len], seq/<c>/alpha [rows],
  seq/<c>/grid [3]: n, shift, g
-> seq/<c>/y, seq/<c>/dx, seq/<c>/dalpha, and seq/<c>/autograd_dalpha: the same surrogate derived by
   torch autograd from a straight-through round (clamp, then round with a detached residual), an
   independent check of the hand-stated gradient for the integer grids (top is then the clipped level).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402

CLIP = 0.99


class Seq(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha, n, shift, g):
        ctx.save_for_backward(x, alpha)
        ctx.grid = n, shift, g
        return level(x / alpha, n, shift) * alpha

    @staticmethod
    def backward(ctx, dy):
        x, alpha = ctx.saved_tensors
        n, shift, g = ctx.grid
        v = x / alpha
        inside = (v >= -CLIP) & (v <= CLIP)
        top = (n - shift) / n
        outside_term = torch.where(v < 0, torch.full_like(v, -top), torch.full_like(v, top))
        term = torch.where(inside, level(v, n, shift) - v, outside_term)
        dalpha = (term * dy * g).sum(dim=-1, keepdim=True)
        return dy * inside.to(dy.dtype), dalpha, None, None, None


def level(v, n, shift):
    return (torch.round(torch.clamp(v, -CLIP, CLIP) * n - shift) + shift) / n


def straight_through(x, alpha, n, shift, g):
    """SEQ with a straight-through round; alpha's gradient scaled by g through a hook."""
    alpha = alpha.detach().requires_grad_()
    alpha.register_hook(lambda grad: grad * g)
    r = torch.clamp(x / alpha, -CLIP, CLIP) * n - shift
    rounded = r + (torch.round(r) - r).detach()
    return (rounded + shift) / n * alpha, alpha


def seq_case(request, case):
    key = f"seq/{case}/"
    x = request[key + "x"].to(torch.float32).requires_grad_()
    dy = request[key + "dy"].to(torch.float32)
    alpha = request[key + "alpha"].to(torch.float32).reshape(-1, 1).requires_grad_()
    n, shift, g = request[key + "grid"].tolist()
    y = Seq.apply(x, alpha, n, shift, g)
    y.backward(dy)
    # float32 as well, so both take the same rounding decisions.
    y_st, alpha_st = straight_through(x.detach(), alpha.detach(), n, shift, g)
    y_st.backward(dy)
    return {key + "y": y, key + "dx": x.grad, key + "dalpha": alpha.grad.reshape(-1),
            key + "autograd_dalpha": alpha_st.grad.reshape(-1)}


def main():
    request = read_qft(sys.argv[1])
    answer = {}
    for case in sorted({name.split("/")[1] for name in request if name.startswith("seq/")}):
        answer.update(seq_case(request, case))
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
