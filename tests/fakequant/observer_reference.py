"""PyTorch / numpy reference for tests/fakequant/test_observers_torch.cpp.

Reads a QFT1 request (tests/support/tensor_file.h) and writes a QFT1 answer.
torch.ao observers, per case <c>:
  obs/<c>/config   [7] kind (0 MinMax, 1 MovingAverage), symmetric (0/1), axis (-1 = per tensor),
                   quant_min, quant_max, averaging_constant, number of batches
  obs/<c>/batch<k> the batches, fed in order (float32)
  -> obs/<c>/scale, obs/<c>/zero_point, obs/<c>/min_val, obs/<c>/max_val  (calculate_qparams and buffers)
Percentiles of one batch, per case <c>:
  pct/<c>/x        [parameters, values] the values of each parameter (one row each)
  pct/<c>/config   [2] percentile, symmetric (0/1)
  -> pct/<c>/numpy_low, numpy_high (numpy.percentile on float64, 'linear'),
     pct/<c>/torch_low, torch_high (torch.quantile on float64; on float32 torch also rounds the
     index q * (n - 1) to float32, off by up to 1e-5 relative on heavy tails); symmetric: percentile
     of |x|, low = -high
"""
import os
import sys

import numpy as np
import torch
from torch.ao.quantization import observer as tq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402


def make_observer(config):
    kind, symmetric, axis, qmin, qmax, c, _ = config.tolist()
    symmetric, axis, qmin, qmax = bool(symmetric), int(axis), int(qmin), int(qmax)
    dtype = torch.qint8 if symmetric else torch.quint8
    common = dict(dtype=dtype, quant_min=qmin, quant_max=qmax)
    if axis < 0:
        qscheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
        if kind == 0:
            return tq.MinMaxObserver(qscheme=qscheme, **common)
        return tq.MovingAverageMinMaxObserver(averaging_constant=c, qscheme=qscheme, **common)
    qscheme = torch.per_channel_symmetric if symmetric else torch.per_channel_affine
    if kind == 0:
        return tq.PerChannelMinMaxObserver(ch_axis=axis, qscheme=qscheme, **common)
    return tq.MovingAveragePerChannelMinMaxObserver(averaging_constant=c, ch_axis=axis, qscheme=qscheme, **common)


def observe(request, case, answer):
    key = f"obs/{case}/"
    config = request[key + "config"]
    observer = make_observer(config)
    for k in range(int(config[6].item())):
        observer(request[f"{key}batch{k}"].to(torch.float32))
    scale, zero_point = observer.calculate_qparams()
    answer[key + "scale"] = scale.reshape(-1)
    answer[key + "zero_point"] = zero_point.reshape(-1)
    answer[key + "min_val"] = observer.min_val.reshape(-1)
    answer[key + "max_val"] = observer.max_val.reshape(-1)


def percentiles(request, case, answer):
    key = f"pct/{case}/"
    x = request[key + "x"].to(torch.float32)
    p, symmetric = request[key + "config"].tolist()
    rows = x.abs() if symmetric else x
    values = rows.numpy().astype(np.float64)
    high_np = np.array([np.percentile(row, p) for row in values])
    rows = rows.to(torch.float64)
    high_t = torch.quantile(rows, p / 100.0, dim=1)
    if symmetric:
        low_np, low_t = -high_np, -high_t
    else:
        low_np = np.array([np.percentile(row, 100.0 - p) for row in values])
        low_t = torch.quantile(rows, (100.0 - p) / 100.0, dim=1)
    answer[key + "numpy_low"] = torch.from_numpy(low_np)
    answer[key + "numpy_high"] = torch.from_numpy(high_np)
    answer[key + "torch_low"] = low_t
    answer[key + "torch_high"] = high_t


def main():
    request = read_qft(sys.argv[1])
    answer = {}
    for case in sorted({name.split("/")[1] for name in request if name.startswith("obs/")}):
        observe(request, case, answer)
    for case in sorted({name.split("/")[1] for name in request if name.startswith("pct/")}):
        percentiles(request, case, answer)
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
