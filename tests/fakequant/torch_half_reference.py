"""PyTorch reference for tests/fakequant/test_torch_half_parity.cpp.

Reads a QFT1 request with record "x" (float32 values stored as float64, tests/support/tensor_file.h)
and answers "fp16" = x.half().float() and "bf16" = x.bfloat16().float(), both stored as float64.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402


def main(request_path, answer_path):
    x = read_qft(request_path)["x"].to(torch.float32)
    write_qft(answer_path, {"fp16": x.half().float(), "bf16": x.bfloat16().float()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
