"""numpy reference of LLM.int8()'s decomposed matmul for tests/fakequant/test_llm_int8.cpp, written for the
test from the paper (Dettmers et al. 2022, LLM.int8(), §3.2 vector-wise quantization, §3.3 eq. 7) and the
inference conventions of bitsandbytes that fakequant/fake_quant_op.h states:

  O = columns of X with some |x| >= threshold;
  X_R (the other columns): per row absmax over the elements with |x| < threshold, int8 codes, levels -127..127;
  W: per output row absmax, int8 codes;
  Y = X_O fp16 @ dequant(W)_O^T  +  (C_X @ C_W^T in integers) * s_x s_w^T  (int32 matmul, then dequantized).

Codes follow qforge's stated grid (fakequant/quant_math.h: scale = absmax / 127, code = round-half-even(x * (1 /
scale)), all in float32) so they can be compared exactly; everything after the codes is float64 and the product
is formed the way the int8 kernel forms it (integer accumulation, then the outer product of the scales), not as
qforge does (a float matmul of the dequantized input and weight).

Request (QFT1, tests/support/tensor_file.h): per case "<case>/x" [rows, cols], "<case>/w" [out, cols],
"<case>/threshold" [1] (0: no decomposition). Answer: "<case>/outliers" [cols] (0/1), "<case>/x_q" [rows, cols]
(the decomposed input as the matmul sees it: code * scale in float32, or the FP16 value), "<case>/y" [rows, out],
"<case>/y_float_x" [rows, out] (float64 X dequant(W)^T: what the input's quantization alone changes).
"""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from torch_reference import read_qft, write_qft  # noqa: E402

import torch  # noqa: E402  (write_qft takes tensors)


def codes(values, absmax):
    """Row-wise int8 codes of float32 `values` [rows, cols] with float32 `absmax` [rows]."""
    scale = np.maximum(absmax / np.float32(127), np.float32(np.finfo(np.float32).tiny))
    inverse = (np.float32(1) / scale).astype(np.float32)
    c = np.rint((values * inverse[:, None]).astype(np.float32))
    return np.clip(c, -128, 127).astype(np.int64), scale.astype(np.float64)


def decompose(x, w, threshold):
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    big = np.abs(x32) >= threshold if threshold > 0 else np.zeros_like(x32, dtype=bool)
    outliers = big.any(axis=0)
    regular = np.where(big, np.float32(0), x32)  # outlier elements do not widen their row's range
    cx, sx = codes(regular, np.abs(regular).max(axis=1))
    cx[:, outliers] = 0
    cw, sw = codes(w32, np.abs(w32).max(axis=1))
    w_dequant = cw.astype(np.float64) * sw[:, None]
    x_fp16 = x32[:, outliers].astype(np.float16).astype(np.float64)
    y_int8 = (cx @ cw.T).astype(np.float64) * np.outer(sx, sw)  # int64 accumulation: exact
    y = y_int8 + x_fp16 @ w_dequant[:, outliers].T
    x_q = (cx.astype(np.float32) * sx.astype(np.float32)[:, None]).astype(np.float64)  # one float32 product
    x_q[:, outliers] = x_fp16
    return outliers, x_q, y, x @ w_dequant.T


def main(request_path, answer_path):
    request = read_qft(request_path)
    answer = {}
    for name in sorted({key.split("/")[0] for key in request}):
        x = request[f"{name}/x"].numpy()
        w = request[f"{name}/w"].numpy()
        threshold = float(request[f"{name}/threshold"].numpy()[0])
        outliers, x_q, y, y_float_x = decompose(x, w, threshold)
        answer[f"{name}/outliers"] = torch.from_numpy(outliers.astype(np.float64))
        answer[f"{name}/x_q"] = torch.from_numpy(x_q)
        answer[f"{name}/y"] = torch.from_numpy(y)
        answer[f"{name}/y_float_x"] = torch.from_numpy(y_float_x)
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
