"""PyTorch reference for tests/fakequant/test_int_quantizer.cpp: torch's affine fake-quant ops.

Reads a QFT1 request (tests/support/tensor_file.h) and writes a QFT1 answer. Per case <c>:
  fq/<c>/x            input (run in float32, as the C++ side)
  fq/<c>/scale        [n] scales (float32 values); fq/<c>/zero_point [n] integer zero points
  fq/<c>/range        [2] quant_min, quant_max
  fq/<c>/axis         [1] channel axis, or -1 for torch.fake_quantize_per_tensor_affine
  -> fq/<c>/y         the fake-quantized tensor
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402


def fake_quantize(request, case):
    key = f"fq/{case}/"
    x = request[key + "x"].to(torch.float32)
    scale = request[key + "scale"].to(torch.float32)
    zero_point = request[key + "zero_point"].to(torch.int32)
    qmin, qmax = (int(v) for v in request[key + "range"].tolist())
    axis = int(request[key + "axis"].item())
    if axis < 0:
        return torch.fake_quantize_per_tensor_affine(x, float(scale.item()), int(zero_point.item()), qmin, qmax)
    return torch.fake_quantize_per_channel_affine(x, scale, zero_point, axis, qmin, qmax)


def main():
    request = read_qft(sys.argv[1])
    cases = sorted({name.split("/")[1] for name in request if name.startswith("fq/")})
    answer = {f"fq/{case}/y": fake_quantize(request, case) for case in cases}
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
