"""Independent numpy reference for exporters/hf/quant (tests/exporters/test_hf_quant_reference.cpp).

    /usr/bin/python3 tests/exporters/hf_quant_reference.py REQUEST.qft ANSWER.qft

Packs each case of the request (unsigned codes [out, in], scales and zero points [out, groups], g_idx
[in], options) into the tensors a Hugging Face loader reads, written from the published descriptions
(docs/hf-quantized.md §2-§5) and NOT from the C++ code: numpy bit arrays for the LSB-first stream,
strided nibble selection for AWQ, compressed-tensors' "32 // bits values per word" formulation, numpy's
float16 cast and a bit-level bfloat16 rounding; for bitsandbytes the tables and the dynamic map as its
source defines them (the map evaluated with torch), FP4 codes matched by value, json.dumps, and
quantize_4bit for "fp4" from float weights (CUDA dQuantizeFP4's decision tree, double quantization).
The C++ side compares the bytes.

Request, per case c: text "c.layout", "c.name"; tensors "c.options" = [bits, group_size (-1 = one group
per row), symmetric, act_order, gptq_v2, bf16_scales], "c.codes", "c.scales", "c.zeros", "c.g_idx". A
"bitsandbytes" case instead: "c.options" = [fp4 (0 nf4, 1 qforge's FP4 codes, 2 bitsandbytes' fp4 codes),
double_quant, blocksize, out, in, dtype (0 float16, 1 bfloat16, 2 float32)], "c.codes" (the 4-bit code of
every element, unpacked), and "c.absmax", or "c.absmax_codes", "c.nested_absmax", "c.offset". A
"bitsandbytes_fp4_quantize" case: "c.options" = [double_quant, blocksize, out, in, dtype] and "c.x" (the
float32 weight [out, in]), quantized here as bitsandbytes' quantize_4bit(quant_type="fp4") does.
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


# ---- bitsandbytes 4-bit (docs/hf-quantized.md §5) ----

NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=np.float32)
# get_4bit_type("fp4"): its "-0" is the integer 0, so entry 8 is +0.0; divided by the max, 12, in float32.
BNB_FP4 = np.array([0, 0.0625, 8, 12, 4, 6, 2, 3, 0, -0.0625, -8, -12, -4, -6, -2, -3], dtype=np.float32) / np.float32(12)
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float32)


def dynamic_map():
    """create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), evaluated with torch as
    bitsandbytes does (float32 linspace and means, python-scalar products, sorted)."""
    import torch
    data = []
    for i in range(7):
        boundaries = torch.linspace(0.1, 1, 2 ** i + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-6 + i)) * means).tolist()
        data += (-(10 ** (-6 + i)) * means).tolist()
    data += [0, 1.0]
    return np.array(sorted(data), dtype=np.float32)


def fp4_to_bnb(code):
    """qforge's FP4 code (sign bit 3, E2M1 magnitude / 6) -> the bitsandbytes fp4 code of equal value."""
    value = E2M1[code & 7] / np.float32(6)
    matches = [b for b in range(16) if (b & 8) == (code & 8) and BNB_FP4[b] == (-value if code & 8 else value)]
    assert len(matches) == 1, code
    return matches[0]


def bnb_fp4_code(x):
    """csrc/kernels.cu dQuantizeFP4, its decision tree as written: sign = x < 0, then |x| > pivot moves up
    (float32 pivots as the source spells them); NaN compares false everywhere (code 0)."""
    a, p = np.abs(x), np.float32
    with np.errstate(invalid="ignore"):
        code = np.where(a > p(0.29166667),
                        np.where(a > p(0.583333), np.where(a > p(0.8333333), 3, 2), np.where(a > p(0.4166667), 5, 4)),
                        np.where(a > p(0.0859375), np.where(a > p(0.20833333), 7, 6), np.where(a > p(0.00260417), 1, 0)))
        return code + np.where(x < 0, 8, 0)


def blockwise_absmax(x, blocksize):
    """max |x| per block of the flattened tensor (the last block may be short), float32."""
    n = len(x)
    return np.array([np.abs(x[b:b + blocksize]).max() for b in range(0, n, blocksize)], dtype=np.float32)


def times_reciprocal(x, absmax, blocksize):
    """x * (1 / absmax) in float32, as kQuantizeBlockwise scales (0 * inf = NaN in an all-zero block)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return x * np.repeat(np.float32(1) / absmax, blocksize)[:len(x)]


def quantize_fp4(case):
    """bitsandbytes quantize_4bit(A, blocksize, compress_statistics, quant_type="fp4") of the flattened weight:
    absmax per block, codes of x / absmax; with double quantization offset = mean(absmax) (float64 sum,
    one rounding), absmax - offset quantized in blocks of 256 to the nearest dynamic-map value (the first,
    i.e. lower, index on a tie), one float32 nested absmax per block."""
    x, bs = case["x"].reshape(-1), case["blocksize"]
    absmax = blockwise_absmax(x, bs)
    case["codes"] = bnb_fp4_code(times_reciprocal(x, absmax, bs)).astype(np.int64)
    case["fp4"] = 2
    if not case["double_quant"]:
        case["absmax"] = absmax
        return case
    offset = np.float32(absmax.astype(np.float64).mean())
    centered = (absmax - offset).astype(np.float32)
    nested = blockwise_absmax(centered, 256)
    scaled = times_reciprocal(centered, nested, 256).astype(np.float64)
    case["absmax_codes"] = np.abs(scaled[:, None] - dynamic_map().astype(np.float64)[None, :]).argmin(1).astype(np.uint8)
    case.update(nested_absmax=nested, offset=offset)
    return case


def bitsandbytes(case):
    p, fp4, dq = case["name"] + ".weight", case["fp4"], case["double_quant"]
    codes = np.array([fp4_to_bnb(c) for c in case["codes"]]) if fp4 == 1 else case["codes"]
    padded = np.pad(codes, (0, len(codes) % 2)).astype(np.uint8)
    type_name = "fp4" if fp4 else "nf4"
    state = {"quant_type": type_name, "blocksize": case["blocksize"], "dtype": case["dtype"],
             "shape": [case["out"], case["in"]]}
    tensors = {p: ("U8", ((padded[0::2] << 4) | padded[1::2]).reshape(-1, 1)),
               p + ".quant_map": ("F32", (BNB_FP4 if fp4 else NF4).view(np.uint32))}
    if dq:
        state.update({"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": float(case["offset"])})
        tensors[p + ".absmax"] = ("U8", case["absmax_codes"])
        tensors[p + ".nested_absmax"] = ("F32", case["nested_absmax"].view(np.uint32))
        tensors[p + ".nested_quant_map"] = ("F32", dynamic_map().view(np.uint32))
        absmax = dynamic_map()[case["absmax_codes"]] * np.repeat(case["nested_absmax"], 256)[:len(case["absmax_codes"])]
        absmax = absmax + case["offset"]  # two float32 roundings, as dequantize_blockwise then += offset
    else:
        tensors[p + ".absmax"] = ("F32", case["absmax"].view(np.uint32))
        absmax = case["absmax"]
    tensors[f"{p}.quant_state.bitsandbytes__{type_name}"] = ("U8", np.frombuffer(json.dumps(state).encode(), np.uint8))
    cfg = {"quant_method": "bitsandbytes", "load_in_4bit": True, "load_in_8bit": False,
           "bnb_4bit_quant_type": type_name, "bnb_4bit_use_double_quant": dq, "bnb_4bit_compute_dtype": case["dtype"],
           "bnb_4bit_quant_storage": "uint8", "llm_int8_threshold": 6.0, "llm_int8_has_fp16_weight": False,
           "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_skip_modules": ["lm_head"]}
    table = BNB_FP4 if fp4 else NF4
    dequant = table[codes] * absmax[np.arange(len(codes)) // case["blocksize"]]
    return tensors, cfg, dequant


def read_bnb_case(request, c):
    opts = [int(v) for v in request[c + ".options"]]
    case = {"name": request[c + ".name"], "fp4": opts[0], "double_quant": bool(opts[1]), "blocksize": opts[2],
            "out": opts[3], "in": opts[4], "dtype": ["float16", "bfloat16", "float32"][opts[5]],
            "codes": request[c + ".codes"].astype(np.int64)}
    if case["double_quant"]:
        case["absmax_codes"] = request[c + ".absmax_codes"].astype(np.uint8)
        case["nested_absmax"] = request[c + ".nested_absmax"].astype(np.float32)
        case["offset"] = np.float32(request[c + ".offset"][0])
    else:
        case["absmax"] = request[c + ".absmax"].astype(np.float32)
    return case


def read_fp4_quantize_case(request, c):
    opts = [int(v) for v in request[c + ".options"]]
    return {"name": request[c + ".name"], "double_quant": bool(opts[0]), "blocksize": opts[1], "out": opts[2],
            "in": opts[3], "dtype": ["float16", "bfloat16", "float32"][opts[4]],
            "x": request[c + ".x"].astype(np.float32)}


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
        if request[c + ".layout"] == "bitsandbytes":
            tensors, cfg, dequant = bitsandbytes(read_bnb_case(request, c))
        elif request[c + ".layout"] == "bitsandbytes_fp4_quantize":
            tensors, cfg, dequant = bitsandbytes(quantize_fp4(read_fp4_quantize_case(request, c)))
        else:
            case = read_case(request, c)
            tensors, cfg = LAYOUTS[request[c + ".layout"]](case)
            dequant = dequantize(case, "BF16" if case["bf16_scales"] else "F16")
        answer[c + ".tensors"] = "\n".join(sorted(tensors))
        for name, (dtype, values) in tensors.items():
            answer[f"{c}/{name}"] = np.asarray(values).astype(np.float64)
            answer[f"{c}/{name}.dtype"] = dtype
        answer[c + ".config"] = json.dumps(cfg)
        answer[c + ".dequant"] = np.asarray(dequant, dtype=np.float32).astype(np.float64)
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
