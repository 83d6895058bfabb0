"""Independent numpy reference for the SpQR layout of exporters/hf/quant
(tests/exporters/test_hf_quant_spqr.cpp).

    /usr/bin/python3 tests/exporters/hf_quant_reference_codebooks.py REQUEST.qft ANSWER.qft

Written from the published description (docs/hf-quantized.md §9), NOT from the C++ code: the SpQR
tile words assembled with numpy uint64 shifts, the second-order record as the little-endian bytes of
four float16 values, numpy float16 arithmetic for the dequantization.

Request, per case c: text "c.layout" ("spqr") and "c.name", then
  spqr: "c.codes" [m, n] (permuted column order), "c.scale_codes", "c.zero_codes" [m, n / 16],
        "c.second_order" [m / 16, n / 16, 4] (float16 bits), "c.perm" [n], "c.outliers" [k, 3] (row,
        permuted column, float16 bits).
Answer as tests/exporters/hf_quant_reference_8bit.py: tensors as bytes + shape + dtype, "c.config",
"c.dequant".
"""
import json
import sys

import numpy as np

sys.dont_write_bytecode = True
from hf_quant_reference import read_qft, write_qft  # noqa: E402

NUMPY = {"I32": "<i4", "I64": "<i8", "F16": "<u2", "F32": "<u4"}
U64 = np.uint64


# ---- SpQR (3-bit, 16 x 16 tiles) ----

def spqr(request, c):
    p = request[c + ".name"]
    q = request[c + ".codes"].astype(np.uint64)
    m, n = q.shape
    R, C = m // 16, n // 16
    ws = request[c + ".scale_codes"].astype(np.uint64).reshape(R, 16, C).transpose(0, 2, 1)  # [R, C, k]
    wz = request[c + ".zero_codes"].astype(np.uint64).reshape(R, 16, C).transpose(0, 2, 1)
    record = request[c + ".second_order"].astype("<u2").reshape(R, C, 4)
    record_bytes = record.view(np.uint8).reshape(R, C, 8).astype(np.uint64)  # byte b = bits 8b.. of the record
    tiles = q.reshape(R, 16, C, 16).transpose(0, 2, 1, 3)  # [R, C, k, l]
    word = ws | (wz << U64(3))
    for l in range(16):
        word = word | (tiles[:, :, :, l] << U64(6 + 3 * l))
    word = word | (record_bytes[:, :, np.arange(16) // 2] << U64(54))  # rows 2b, 2b + 1 carry byte b
    outliers = request[c + ".outliers"].astype(np.int64).reshape(-1, 3)
    rows, cols, values = outliers[:, 0], outliers[:, 1], outliers[:, 2].astype(np.uint32)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=m))]).astype(np.int32)
    perm = request[c + ".perm"].astype(np.uint32)
    tensors = {p + ".dense_weights": ("I64", word.reshape(-1).view(np.int64)),
               p + ".row_offsets": ("I32", offsets),
               p + ".col_vals": ("I32", ((values << np.uint32(16)) | cols.astype(np.uint32)).view(np.int32)),
               p + ".in_perm": ("I32", ((perm[1::2] << np.uint32(16)) | perm[0::2]).view(np.int32))}
    shapes = {name + ".shape": int(np.asarray(v).shape[0]) for name, (_, v) in tensors.items()}
    cfg = {"quant_method": "spqr", "bits": 3, "beta1": 16, "beta2": 16, "shapes": shapes,
           "modules_to_not_convert": ["lm_head.weight"]}
    # Dequantization in float16 arithmetic (numpy rounds every float16 operation to nearest even).
    h = record.view(np.float16)  # scale.scale, zero.scale, scale.zero, zero.zero per tile
    ss, zs, sz, zz = (np.repeat(h[:, None, :, f], 16, axis=1).reshape(m, C) for f in range(4))
    s = ss * (request[c + ".scale_codes"].astype(np.float16) - sz)
    z = zs * (request[c + ".zero_codes"].astype(np.float16) - zz)
    dense = s[:, :, None] * (q.astype(np.float16).reshape(m, C, 16) - z[:, :, None])
    w = dense.reshape(m, n).astype(np.float32)
    np.add.at(w, (rows, cols), values.astype(np.uint16).view(np.float16).astype(np.float32))
    w = w.astype(np.float16).astype(np.float32)
    dequant = np.empty_like(w)
    dequant[:, perm.astype(np.int64)] = w
    return tensors, cfg, dequant


LAYOUTS = {"spqr": spqr}


def put_tensors(answer, c, tensors):
    answer[c + ".tensors"] = "\n".join(sorted(tensors))
    for name, (dtype, values) in tensors.items():
        values = np.asarray(values)
        raw = np.ascontiguousarray(values.astype(NUMPY[dtype])).tobytes()
        answer[f"{c}/{name}"] = np.frombuffer(raw, dtype=np.uint8).astype(np.float64)
        answer[f"{c}/{name}.shape"] = np.array(values.shape, dtype=np.float64)
        answer[f"{c}/{name}.dtype"] = dtype


def main(request_path, answer_path):
    request = read_qft(request_path)
    answer = {}
    for c in sorted({name.split(".")[0] for name in request}):
        tensors, cfg, dequant = LAYOUTS[request[c + ".layout"]](request, c)
        put_tensors(answer, c, tensors)
        answer[c + ".config"] = json.dumps(cfg)
        answer[c + ".dequant"] = np.asarray(dequant, dtype=np.float32).astype(np.float64)
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
