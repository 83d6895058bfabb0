"""PyTorch reference of one PEFT LoRA Linear for tests/layers/test_lora_torch_parity.cpp.

Re-implements peft.tuners.lora.layer.Linear.forward without importing peft (not installed):
    result = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling,  scaling = lora_alpha / r
(lora_alpha / sqrt(r) with use_rslora), and get_delta_weight = scaling * (B @ A) for merging.
Dropout is 0 here (a deterministic comparison).

Request (QFT1, tests/support/tensor_file.h), per case <c>: <c>/weight [out, in], <c>/bias [out]
(optional), <c>/lora_A.weight [r, in], <c>/lora_B.weight [out, r], <c>/x [..., in],
<c>/upstream [..., out], <c>/alpha, <c>/rslora (0-d).
Answer: <c>/y, <c>/grad/x, <c>/grad/lora_A.weight, <c>/grad/lora_B.weight, <c>/merged_weight,
in float64; a case that raises is answered with <c>/error.
"""
import math
import os
import sys
import traceback

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_reference import read_qft, write_qft  # noqa: E402


class LoraLinear(nn.Module):
    def __init__(self, in_features, out_features, r, alpha, rslora, bias):
        super().__init__()
        self.base_layer = nn.Linear(in_features, out_features, bias=bias)
        self.lora_A = nn.Linear(in_features, r, bias=False)
        self.lora_B = nn.Linear(r, out_features, bias=False)
        self.lora_dropout = nn.Identity()
        self.scaling = alpha / math.sqrt(r) if rslora else alpha / r
        self.base_layer.requires_grad_(False)

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling

    def merged_weight(self):
        return self.base_layer.weight + self.scaling * (self.lora_B.weight @ self.lora_A.weight)


def run_case(request, case):
    weight = request[f"{case}/weight"]
    lora_a = request[f"{case}/lora_A.weight"]
    has_bias = f"{case}/bias" in request
    layer = LoraLinear(weight.shape[1], weight.shape[0], lora_a.shape[0], float(request[f"{case}/alpha"].item()),
                       bool(request[f"{case}/rslora"].item()), has_bias).double()
    with torch.no_grad():
        layer.base_layer.weight.copy_(weight)
        if has_bias:
            layer.base_layer.bias.copy_(request[f"{case}/bias"])
        layer.lora_A.weight.copy_(lora_a)
        layer.lora_B.weight.copy_(request[f"{case}/lora_B.weight"])
    x = request[f"{case}/x"].clone().requires_grad_(True)
    y = layer(x)
    (y * request[f"{case}/upstream"]).sum().backward()
    return {f"{case}/y": y, f"{case}/grad/x": x.grad, f"{case}/grad/lora_A.weight": layer.lora_A.weight.grad,
            f"{case}/grad/lora_B.weight": layer.lora_B.weight.grad, f"{case}/merged_weight": layer.merged_weight()}


def main(request_path, answer_path):
    request = read_qft(request_path)
    answer = {}
    for case in sorted({name.split("/")[0] for name in request}):
        try:
            answer.update(run_case(request, case))
        except Exception:  # reported by name on the C++ side
            answer[f"{case}/error"] = traceback.format_exc()
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
