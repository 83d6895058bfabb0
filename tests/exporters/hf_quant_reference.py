"""Independent numpy reference for exporters/hf/quant (tests/exporters/test_hf_quant_reference.cpp).

    /usr/bin/python3 tests/exporters/hf_quant_reference.py REQUEST.qft ANSWER.qft

Packs each case of the request (unsigned codes [out, in], scales and zero points [out, groups], g_idx
[in], options) into the tensors a Hugging Face loader reads, written from the published descriptions
(docs/hf-quantized.md §2-§4) and NOT from the C++ code: numpy bit arrays for the LSB-first stream,
strided nibble selection for AWQ, compressed-tensors' "32 // bits values per word" formulation, numpy's
float16 cast and a bit-level bfloat16 rounding. The C++ side compares the bytes.

Request, per case c: text "c.layout", "c.name"; tensors "c.options" = [bits, group_size (-1 = one group
per row), symmetric, act_order, gptq_v2, bf16_scales], "c.codes", "c.scales", "c.zeros", "c.g_idx".
Answer, per case: text "c.tensors" (the tensor names, one per line), per tensor "c/NAME" (the raw
element bit patterns as unsigned integers) and text "c/NAME.dtype"; text "c.config" (the
quantization_config JSON); tensor "c.dequant" (the float32 weight of the dequantization formula).
Format of the files: tests/support/tensor_file.h.
"""
import json
import math
import struct
import sys

import numpy as np


def read_qft(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"QFT1":
        raise ValueError(f"{path}: not a QFT1 file")
    (count,) = struct.unpack_from("<I", data, 4)
    pos, records = 8, {}
    for _ in range(count):
        kind = data[pos]
        (n,) = struct.unpack_from("<I", data, pos + 1)
        name = data[pos + 5 : pos + 5 + n].decode()
        pos += 5 + n
        if kind == 1:
            (n,) = struct.unpack_from("<I", data, pos)
            records[name] = data[pos + 4 : pos + 4 + n].decode()
            pos += 4 + n
            continue
        (ndim,) = struct.unpack_from("<I", data, pos)
        dims = struct.unpack_from(f"<{ndim}q", data, pos + 4)
        pos += 4 + 8 * ndim
        numel = math.prod(dims)
        records[name] = np.frombuffer(data, dtype="<f8", count=numel, offset=pos).reshape(dims)
        pos += 8 * numel
    return records


def write_qft(path, records):
    with open(path, "wb") as f:
        f.write(b"QFT1" + struct.pack("<I", len(records)))
        for name, value in records.items():
            encoded = name.encode()
            if isinstance(value, str):
                text = value.encode()
                f.write(struct.pack("<BI", 1, len(encoded)) + encoded + struct.pack("<I", len(text)) + text)
                continue
            value = np.ascontiguousarray(value, dtype="<f8")
            f.write(struct.pack("<BI", 0, len(encoded)) + encoded)
            f.write(struct.pack(f"<I{value.ndim}q", value.ndim, *value.shape))
            f.write(value.tobytes())


# ---- element encodings ----

def f16_bits(x):
    """numpy's float32 -> float16 cast rounds to nearest even."""
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint16)


def bf16_bits(x):
    """Round to nearest even on the upper 16 bits of the float32 pattern (no NaN here)."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def decode_scale(bits, dtype):
    if dtype == "F16":
        return bits.astype(np.uint16).view(np.float16).astype(np.float32)
    return (bits.astype(np.uint32) << 16).view(np.float32)


# ---- packings ----

def lsb_stream(values, bits):
    """values [lanes, count] -> uint32 words [lanes, ceil(count * bits / 32)]: each lane is one bit stream,
    value k at stream bits [bits*k, bits*k + bits), stream bit j = bit j % 32 of word j // 32."""
    lanes, count = values.shape
    v = values.astype(np.uint64)
    stream = ((v[:, :, None] >> np.arange(bits, dtype=np.uint64)) & 1).reshape(lanes, count * bits)
    words = -(-count * bits // 32)
    stream = np.pad(stream, ((0, 0), (0, words * 32 - count * bits)))
    weights = np.uint64(1) << np.arange(32, dtype=np.uint64)
    return (stream.reshape(lanes, words, 32) * weights).sum(axis=2).astype(np.uint32)


def per_word_pack(values, bits):
    """compressed-tensors' description for bits dividing 32: pack_factor = 32 // bits consecutive values
    per word, value j of a word at bit bits * j, the row zero-padded to whole words."""
    rows, cols = values.shape
    factor = 32 // bits
    padded = np.pad(values.astype(np.uint64), ((0, 0), (0, -cols % factor)))
    shifts = np.arange(factor, dtype=np.uint64) * np.uint64(bits)
    return (padded.reshape(rows, -1, factor) << shifts).sum(axis=2).astype(np.uint32)


AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def awq_pack(values):
    """values [rows, out] -> [rows, out // 8]: nibble n of word c holds column 8c + AWQ_ORDER[n]."""
    v = values.astype(np.uint32)
    word = np.zeros((v.shape[0], v.shape[1] // 8), dtype=np.uint32)
    for n, column in enumerate(AWQ_ORDER):
        word |= v[:, column::8] << np.uint32(4 * n)
    return word


# ---- layouts ----

def gptq(case):
    p, bits, q, z, s = case["name"], case["bits"], case["codes"], case["zeros"], case["scales"]
    stored_zeros = z if case["gptq_v2"] else z - 1
    assert stored_zeros.min() >= 0
    cfg = {"quant_method": "gptq", "bits": bits, "group_size": case["group_size"], "desc_act": case["act_order"],
           "sym": case["symmetric"], "checkpoint_format": "gptq_v2" if case["gptq_v2"] else "gptq"}
    tensors = {p + ".qweight": ("I32", lsb_stream(q, bits).T),
               p + ".qzeros": ("I32", lsb_stream(stored_zeros.T, bits)),
               p + ".scales": ("F16", f16_bits(s.T)),
               p + ".g_idx": ("I32", case["g_idx"].astype(np.uint32))}
    return tensors, cfg


def awq(case):
    p = case["name"]
    cfg = {"quant_method": "awq", "bits": 4, "group_size": case["group_size"], "zero_point": True,
           "version": "gemm", "modules_to_not_convert": ["lm_head"]}
    tensors = {p + ".qweight": ("I32", awq_pack(case["codes"].T)),
               p + ".qzeros": ("I32", awq_pack(case["zeros"].T)),
               p + ".scales": ("F16", f16_bits(case["scales"].T))}
    return tensors, cfg


def compressed_tensors(case):
    p, bits, out, inn = case["name"], case["bits"], *case["codes"].shape
    channel = case["group_size"] == -1
    weights = {"num_bits": bits, "type": "int", "symmetric": case["symmetric"],
               "strategy": "channel" if channel else "group", "group_size": None if channel else case["group_size"],
               "block_structure": None, "dynamic": False, "actorder": "group" if case["act_order"] else None}
    cfg = {"quant_method": "compressed-tensors", "format": "pack-quantized", "quantization_status": "compressed",
           "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": None,
                                         "output_activations": None}},
           "ignore": ["lm_head"], "kv_cache_scheme": None, "sparsity_config": {}, "transform_config": {}}
    # The library packs signed values + 2^(bits-1): the unsigned codes and zeros of the request.
    scale_dtype = "BF16" if case["bf16_scales"] else "F16"
    tensors = {p + ".weight_packed": ("I32", per_word_pack(case["codes"], bits)),
               p + ".weight_scale": (scale_dtype, (bf16_bits if case["bf16_scales"] else f16_bits)(case["scales"])),
               p + ".weight_shape": ("I64", np.array([out, inn], dtype=np.uint64))}
    if not case["symmetric"]:
        tensors[p + ".weight_zero_point"] = ("I32", per_word_pack(case["zeros"].T, bits).T)
    if case["act_order"]:
        tensors[p + ".weight_g_idx"] = ("I32", case["g_idx"].astype(np.uint32))
    return tensors, cfg


LAYOUTS = {"gptq": gptq, "awq": awq, "compressed-tensors": compressed_tensors}


def dequantize(case, scale_dtype):
    """W[o, i] = s[o, g_idx[i]] * (q[o, i] - z[o, g_idx[i]]) in float32, s as the file stores it."""
    bits = f16_bits(case["scales"]) if scale_dtype == "F16" else bf16_bits(case["scales"])
    s = decode_scale(bits, scale_dtype)[:, case["g_idx"]]
    z = case["zeros"][:, case["g_idx"]]
    return s * (case["codes"] - z).astype(np.float32)


def read_case(request, c):
    opts = [int(v) for v in request[c + ".options"]]
    case = {"name": request[c + ".name"], "bits": opts[0], "group_size": opts[1], "symmetric": bool(opts[2]),
            "act_order": bool(opts[3]), "gptq_v2": bool(opts[4]), "bf16_scales": bool(opts[5]),
            "codes": request[c + ".codes"].astype(np.int64), "zeros": request[c + ".zeros"].astype(np.int64),
            "scales": request[c + ".scales"].astype(np.float32), "g_idx": request[c + ".g_idx"].astype(np.int64)}
    return case


def main(request_path, answer_path):
    request = read_qft(request_path)
    answer = {}
    for c in sorted({name.split(".")[0] for name in request}):
        case = read_case(request, c)
        tensors, cfg = LAYOUTS[request[c + ".layout"]](case)
        answer[c + ".tensors"] = "\n".join(sorted(tensors))
        for name, (dtype, values) in tensors.items():
            answer[f"{c}/{name}"] = np.asarray(values).astype(np.float64)
            answer[f"{c}/{name}.dtype"] = dtype
        answer[c + ".config"] = json.dumps(cfg)
        scale_dtype = "BF16" if case["bf16_scales"] else "F16"
        answer[c + ".dequant"] = dequantize(case, scale_dtype).astype(np.float64)
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
