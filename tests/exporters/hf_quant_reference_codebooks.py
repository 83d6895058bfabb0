"""Independent numpy reference for the SpQR and QuIP# layouts of exporters/hf/quant
(tests/exporters/test_hf_quant_spqr.cpp, test_hf_quant_quip_sharp.cpp).

    /usr/bin/python3 tests/exporters/hf_quant_reference_codebooks.py REQUEST.qft ANSWER.qft

Written from the published descriptions (docs/hf-quantized.md §9-§10), NOT from the C++ code: the SpQR
tile words assembled with numpy uint64 shifts, the second-order record as the little-endian bytes of
four float16 values, numpy float16 arithmetic for the dequantization; the E8P12 codebook built from its
definition (the 227 abs patterns enumerated and sorted, the 29 listed norm-12 rows), the Qidxs words
with numpy reshapes, and W = diag(SV) H_out G H_in^T diag(SU) with H = np.kron(had12, Sylvester) for
sizes 12 * 2^k (had12 typed from quip-sharp's lib/utils/matmul_had.py get_had12, and checked to be a
Hadamard matrix) and Sylvester's matrix for powers of two; a fused module's rows of part p times its
fuse scale (quip-sharp's FusedQuantizedLinear.forward).

Request, per case c: text "c.layout" ("spqr" | "quip") and "c.name", then
  spqr: "c.codes" [m, n] (permuted column order), "c.scale_codes", "c.zero_codes" [m, n / 16],
        "c.second_order" [m / 16, n / 16, 4] (float16 bits), "c.perm" [n], "c.outliers" [k, 3] (row,
        permuted column, float16 bits);
  quip: "c.codes" [m, n / 8] (16-bit E8P codes), "c.su" [n], "c.sv" [m] (float16 bits), "c.wscale" [1],
        for a fused module also "c.fuse_scales" [p] (float32) and "c.fuse_sizes" [p] (rows per part).
Answer as tests/exporters/hf_quant_reference_8bit.py: tensors as bytes + shape + dtype, "c.config",
"c.dequant".
"""
import itertools
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


# ---- QuIP# E8P12 ----

NORM12 = [[3, 1, 1, 1, 3, 3, 3, 3], [1, 3, 1, 1, 3, 3, 3, 3], [1, 1, 3, 1, 3, 3, 3, 3], [1, 1, 1, 3, 3, 3, 3, 3],
          [3, 3, 3, 1, 3, 3, 1, 1], [3, 3, 3, 1, 3, 1, 3, 1], [3, 3, 3, 1, 1, 3, 3, 1], [3, 3, 3, 1, 3, 1, 1, 3],
          [3, 3, 3, 1, 1, 3, 1, 3], [3, 3, 3, 1, 1, 1, 3, 3], [3, 3, 1, 3, 3, 3, 1, 1], [3, 3, 1, 3, 3, 1, 3, 1],
          [3, 3, 1, 3, 1, 3, 3, 1], [3, 3, 1, 3, 3, 1, 1, 3], [3, 3, 1, 3, 1, 3, 1, 3], [3, 3, 1, 3, 1, 1, 3, 3],
          [3, 1, 3, 3, 3, 3, 1, 1], [3, 1, 3, 3, 3, 1, 3, 1], [3, 1, 3, 3, 1, 3, 3, 1], [3, 1, 3, 3, 3, 1, 1, 3],
          [3, 1, 3, 3, 1, 3, 1, 3], [1, 3, 3, 3, 1, 1, 3, 3], [1, 3, 3, 3, 3, 3, 1, 1], [1, 3, 3, 3, 3, 1, 3, 1],
          [1, 3, 3, 3, 1, 3, 3, 1], [1, 3, 3, 3, 3, 1, 1, 3], [1, 3, 3, 3, 1, 3, 1, 3], [1, 1, 3, 3, 1, 3, 3, 3],
          [3, 3, 1, 1, 3, 3, 3, 1]]


def e8p_abs_rows():
    """|v| for v in D8 + 1/2 with even coordinate sum and |v|^2 <= 10, distinct and sorted, then NORM12 / 2.
    Coordinates beyond 5/2 have a square above 10, so v is enumerated over doubled coordinates +-1, 3, 5
    (the sum of v is even when the doubled sum is a multiple of 4)."""
    doubled = np.array(list(itertools.product([-5, -3, -1, 1, 3, 5], repeat=8)), dtype=np.int16)
    keep = (doubled.sum(axis=1) % 4 == 0) & ((doubled * doubled).sum(axis=1) <= 40)
    rows = np.unique(np.abs(doubled[keep]), axis=0) / 2
    assert len(rows) == 227
    return np.concatenate([rows, np.array(NORM12) / 2])


def e8p_decode(codes, abs_rows):
    """codes [k] -> codewords [k, 8] by the documented rule."""
    signs, row = codes & 255, codes >> 8
    parity = np.array([bin(s).count("1") & 1 for s in signs])
    signs = signs ^ parity
    v = abs_rows[row].copy()
    v[:, 7] *= np.where(abs_rows[row].sum(axis=1) % 2 == 1, -1, 1)
    for i, bit in enumerate([0, 4, 1, 5, 2, 6, 3, 7]):
        v[:, i] *= np.where((signs >> bit) & 1, -1, 1)
    return v + np.where(parity == 1, -0.25, 0.25)[:, None]


def qidxs(codes):
    """codes [m, k] (k = n / 8) -> int64 [m, k / 4]: word (r, c) holds codes (2r + a, 2c + b); low 32
    bits their abs bytes at byte a + 2b, high 32 bits sign bit j of code (a, b) at bit 4j + a + 2b; the
    [m/2, k/2] words laid out as [m/16, k/8, 8, 4]."""
    m, k = codes.shape
    quad = codes.astype(np.uint64).reshape(m // 2, 2, k // 2, 2)  # [r, a, c, b]
    word = np.zeros((m // 2, k // 2), dtype=np.uint64)
    for a in range(2):
        for b in range(2):
            code = quad[:, a, :, b]
            word |= (code >> U64(8)) << U64(8 * (a + 2 * b))
            for j in range(8):
                word |= ((code >> U64(j)) & U64(1)) << U64(32 + 4 * j + a + 2 * b)
    word = word.reshape(m // 16, 8, k // 8, 4).transpose(0, 2, 1, 3)
    return word.reshape(m, k // 4).view(np.int64)


def sylvester(n):
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.kron(np.array([[1.0, 1.0], [1.0, -1.0]]), h)
    return h


# quip-sharp's get_had12() (lib/utils/matmul_had.py), as printed there (from Sloane's library).
HAD12 = np.array([
    [+1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [+1, +1, -1, +1, -1, -1, -1, +1, +1, +1, -1, +1],
    [+1, +1, +1, -1, +1, -1, -1, -1, +1, +1, +1, -1],
    [+1, -1, +1, +1, -1, +1, -1, -1, -1, +1, +1, +1],
    [+1, +1, -1, +1, +1, -1, +1, -1, -1, -1, +1, +1],
    [+1, +1, +1, -1, +1, +1, -1, +1, -1, -1, -1, +1],
    [+1, +1, +1, +1, -1, +1, +1, -1, +1, -1, -1, -1],
    [+1, -1, +1, +1, +1, -1, +1, +1, -1, +1, -1, -1],
    [+1, -1, -1, +1, +1, +1, -1, +1, +1, -1, +1, -1],
    [+1, -1, -1, -1, +1, +1, +1, -1, +1, +1, -1, +1],
    [+1, +1, -1, -1, -1, +1, +1, +1, -1, +1, +1, -1],
    [+1, -1, +1, -1, -1, -1, +1, +1, +1, -1, +1, +1],
], dtype=np.float64)
assert (HAD12 @ HAD12.T == 12 * np.eye(12)).all()


def hadamard(n):
    """quip-sharp's unnormalized H for size n (get_hadK + matmul_hadU_cuda: Sylvester over the last n / K
    axis of the [K, n / K] view, then had_K @ it): kron(had12, S_{n/12}) or S_n."""
    return np.kron(HAD12, sylvester(n // 12)) if n % 12 == 0 else sylvester(n)


def quip(request, c):
    p = request[c + ".name"]
    codes = request[c + ".codes"].astype(np.int64)
    m, n = codes.shape[0], codes.shape[1] * 8
    su = request[c + ".su"].astype(np.uint16)
    sv = request[c + ".sv"].astype(np.uint16)
    wscale = np.float32(request[c + ".wscale"][0])
    tensors = {p + ".Qidxs": ("I64", qidxs(codes)), p + ".SU": ("F16", su), p + ".SV": ("F16", sv),
               p + ".Wscale": ("F32", np.array(wscale, dtype=np.float32).view(np.uint32)),
               p + ".codebook_id": ("I64", np.array(7, dtype=np.int64))}
    cfg = {"codebook": "E8P12", "codebook_version": 1, "codesz": 8, "packsz": 4, "idx_dtype": "torch.int64",
           "lora_rank": 0, "rescale_WH": False, "resid_scale_override": -1, "model_version": 1}
    grid = e8p_decode(codes.reshape(-1), e8p_abs_rows()).reshape(m, n)
    # Integer Hadamard products are exact in float64 (multiples of 1/4); normalized once at the end.
    # QuantizedLinear: had_left_T = get_hadK(in).T applied to the input, had_right = get_hadK(out) to the output.
    product = hadamard(m) @ grid @ hadamard(n).T
    sv_eff = (sv.view(np.float16).astype(np.float32) * wscale).astype(np.float16).astype(np.float64)
    su_f = su.view(np.float16).astype(np.float64)
    dequant = (product * (sv_eff[:, None] * su_f[None, :]) / np.sqrt(float(m * n))).astype(np.float32)
    if c + ".fuse_scales" in request:
        scales = request[c + ".fuse_scales"].astype(np.float32)
        tensors[p + ".fuse_scales"] = ("F32", scales.view(np.uint32))
        rows = np.repeat(scales, request[c + ".fuse_sizes"].astype(np.int64))
        dequant = dequant * rows[:, None]
    return tensors, cfg, dequant


LAYOUTS = {"spqr": spqr, "quip": quip}


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
