"""Independent numpy reference for the 8-bit Hugging Face layouts of exporters/hf/quant
(tests/exporters/test_hf_quant_bnb_int8.cpp, test_hf_quant_fp8.cpp, test_hf_quant_w8a8.cpp).

    /usr/bin/python3 tests/exporters/hf_quant_reference_8bit.py REQUEST.qft ANSWER.qft

Written from the published descriptions (docs/hf-quantized.md §6-§8), NOT from the C++ code:
bitsandbytes' int8_vectorwise_quant / int8_vectorwise_dequant as numpy float32 expressions, the
compressed-tensors min-max FP8 quantizer, and an E4M3 encoder built from the OFP8 bit layout (numpy has
no FP8 type: every finite E4M3 value is enumerated from its sign, exponent and mantissa fields, and a
float32 goes to the nearest one, ties to the even mantissa).

Request, per case c: text "c.layout" and "c.name", then
  "bnb-int8": "c.float" [out, in] (float32 values), "c.threshold" [1];
  "fp8":      "c.float" [out, in], "c.options" = [strategy (0 tensor, 1 channel), activations (0 none,
              1 static tensor, 2 dynamic tensor, 3 dynamic token), scale dtype (0 F16, 1 BF16, 2 F32)],
              "c.input_scale" [1] when static;
  "w8a8":     "c.codes" [out, in] (unsigned 0..255), "c.scales" [out], "c.zeros" [out], "c.options" =
              [symmetric, scale dtype];
  "e4m3":     "c.values" [n] (float32 values, already clamped to +-448): only "c.codes" is answered.
Answer, per case: text "c.tensors" (sorted names, one per line); per tensor "c/NAME" (its little-endian
bytes, one per element of the record), "c/NAME.shape", text "c/NAME.dtype"; text "c.config"; "c.dequant".
"""
import json
import sys

import numpy as np

sys.dont_write_bytecode = True
from hf_quant_reference import bf16_bits, f16_bits, read_qft, write_qft  # noqa: E402


# ---- E4M3 (OCP OFP8: S.EEEE.MMM, bias 7, subnormals at exponent field 0, S.1111.111 = NaN) ----

def e4m3_table():
    """value of every code 0..255 (NaN for 0x7F / 0xFF)."""
    values = np.empty(256, dtype=np.float64)
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exponent, mantissa = (code >> 3) & 0xF, code & 7
        if exponent == 0xF and mantissa == 7:
            values[code] = np.nan
        elif exponent == 0:
            values[code] = sign * mantissa / 8 * 2.0 ** -6
        else:
            values[code] = sign * (1 + mantissa / 8) * 2.0 ** (exponent - 7)
    return values


E4M3 = e4m3_table()


def e4m3_encode(x):
    """float32 array (|x| <= 448) -> codes: nearest magnitude among codes 0..126, ties to the even
    code (even mantissa), sign bit from the float's sign (so -0.0 and negative underflow give 0x80)."""
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    assert np.all(np.abs(x) <= 448)
    magnitudes = E4M3[:127]
    distance = np.abs(np.abs(x)[..., None] - magnitudes)
    best = distance.min(axis=-1, keepdims=True)
    candidates = distance == best
    # One or two nearest codes; of two, the even one (codes are ordered like the values).
    first = candidates.argmax(axis=-1)
    two = candidates.sum(axis=-1) == 2
    code = np.where(two & (first % 2 == 1), first + 1, first)
    return (code | np.where(np.signbit(x), 0x80, 0)).astype(np.uint8)


def scale_bits(values, dtype):
    values = np.asarray(values, dtype=np.float32)
    if dtype == "F16":
        return f16_bits(values)
    if dtype == "BF16":
        return bf16_bits(values)
    return values.view(np.uint32)


def stored_scale(values, dtype):
    bits = scale_bits(values, dtype)
    if dtype == "F16":
        return bits.view(np.float16).astype(np.float32)
    if dtype == "BF16":
        return (bits.astype(np.uint32) << 16).view(np.float32)
    return bits.view(np.float32)


EPSILON = {"F16": np.float32(2.0 ** -10), "BF16": np.float32(2.0 ** -7), "F32": np.float32(np.finfo(np.float32).eps)}
NUMPY = {"I8": "<i1", "U8": "<u1", "F8_E4M3": "<u1", "F16": "<u2", "BF16": "<u2", "F32": "<u4"}


# ---- layouts ----

def bnb_int8(request, c):
    p, w = request[c + ".name"], request[c + ".float"].astype(np.float32)
    scb = np.abs(w).max(axis=1).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        cb = np.round(w * (np.float32(127.0) / scb)[:, None])  # torch.round: half to even
    cb = np.nan_to_num(cb).astype(np.int8)
    tensors = {p + ".weight": ("I8", cb), p + ".SCB": ("F32", scb.view(np.uint32)),
               p + ".weight_format": ("U8", np.array(0, dtype=np.uint8))}
    cfg = {"quant_method": "bitsandbytes", "load_in_8bit": True, "load_in_4bit": False,
           "llm_int8_threshold": float(request[c + ".threshold"][0]), "llm_int8_has_fp16_weight": False,
           "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_skip_modules": ["lm_head"],
           "bnb_4bit_quant_type": "fp4", "bnb_4bit_use_double_quant": False, "bnb_4bit_compute_dtype": "float32",
           "bnb_4bit_quant_storage": "uint8"}
    dequant = (cb.astype(np.float32) * scb[:, None]) * np.float32(7.874015718698502e-3)
    return tensors, cfg, dequant


def ct_args(bits, kind, symmetric, strategy, dynamic):
    return {"num_bits": bits, "type": kind, "symmetric": symmetric, "strategy": strategy, "group_size": None,
            "block_structure": None, "dynamic": dynamic, "actorder": None}


def ct_config(fmt, weights, inputs):
    return {"quant_method": "compressed-tensors", "format": fmt, "quantization_status": "compressed",
            "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": inputs,
                                          "output_activations": None}},
            "ignore": ["lm_head"], "kv_cache_scheme": None, "sparsity_config": {}, "transform_config": {}}


def fp8(request, c):
    p, w = request[c + ".name"], request[c + ".float"].astype(np.float32)
    strategy, activations, dtype = [int(v) for v in request[c + ".options"]]
    dtype = ["F16", "BF16", "F32"][dtype]
    absmax = np.abs(w).max() if strategy == 0 else np.abs(w).max(axis=1)
    scale = stored_scale(np.atleast_1d(np.asarray(absmax, dtype=np.float32)) / np.float32(448), dtype)
    scale = np.where(scale == 0, EPSILON[dtype], scale).astype(np.float32).reshape(-1)
    per_row = scale if strategy == 1 else np.repeat(scale, w.shape[0])
    codes = e4m3_encode(np.clip(w / per_row[:, None], -448, 448))
    tensors = {p + ".weight": ("F8_E4M3", codes),
               p + ".weight_scale": (dtype, scale_bits(scale, dtype).reshape([1] if strategy == 0 else [-1, 1]))}
    inputs = None
    if activations:
        inputs = ct_args(8, "float", True, "token" if activations == 3 else "tensor", activations != 1)
    if activations == 1:
        tensors[p + ".input_scale"] = (dtype, scale_bits(request[c + ".input_scale"], dtype).reshape(1))
    cfg = ct_config("float-quantized", ct_args(8, "float", True, ["tensor", "channel"][strategy], False), inputs)
    dequant = E4M3[codes].astype(np.float32) * per_row[:, None]
    return tensors, cfg, dequant


def w8a8(request, c):
    p = request[c + ".name"]
    codes = request[c + ".codes"].astype(np.int64)
    zeros = request[c + ".zeros"].astype(np.int64)
    symmetric, dtype = [int(v) for v in request[c + ".options"]]
    dtype = ["F16", "BF16", "F32"][dtype]
    scales = request[c + ".scales"].astype(np.float32)
    # compressed-tensors stores signed int8: the unsigned code (zero point) minus 128.
    tensors = {p + ".weight": ("I8", (codes - 128).astype(np.int8)),
               p + ".weight_scale": (dtype, scale_bits(scales, dtype).reshape(-1, 1))}
    if not symmetric:
        tensors[p + ".weight_zero_point"] = ("I8", (zeros - 128).astype(np.int8).reshape(-1, 1))
    cfg = ct_config("int-quantized", ct_args(8, "int", bool(symmetric), "channel", False),
                    ct_args(8, "int", True, "token", True))
    dequant = stored_scale(scales, dtype)[:, None] * (codes - zeros[:, None]).astype(np.float32)
    return tensors, cfg, dequant


LAYOUTS = {"bnb-int8": bnb_int8, "fp8": fp8, "w8a8": w8a8}


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
        layout = request[c + ".layout"]
        if layout == "e4m3":
            answer[c + ".codes"] = e4m3_encode(request[c + ".values"]).astype(np.float64)
            continue
        tensors, cfg, dequant = LAYOUTS[layout](request, c)
        put_tensors(answer, c, tensors)
        answer[c + ".config"] = json.dumps(cfg)
        answer[c + ".dequant"] = np.asarray(dequant, dtype=np.float32).astype(np.float64)
    write_qft(answer_path, answer)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
