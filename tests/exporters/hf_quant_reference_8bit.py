"""Independent numpy reference for the 8-bit Hugging Face layouts of exporters/hf/quant
(tests/exporters/test_hf_quant_bnb_int8.cpp).

    /usr/bin/python3 tests/exporters/hf_quant_reference_8bit.py REQUEST.qft ANSWER.qft

Written from the published descriptions (docs/hf-quantized.md §6), NOT from the C++ code:
bitsandbytes' int8_vectorwise_quant / int8_vectorwise_dequant as numpy float32 expressions.

Request, per case c: text "c.layout" and "c.name", then
  "bnb-int8": "c.float" [out, in] (float32 values), "c.threshold" [1];
Answer, per case: text "c.tensors" (sorted names, one per line); per tensor "c/NAME" (its little-endian
bytes, one per element of the record), "c/NAME.shape", text "c/NAME.dtype"; text "c.config"; "c.dequant".
"""
import json
import sys

import numpy as np

sys.dont_write_bytecode = True
from hf_quant_reference import read_qft, write_qft  # noqa: E402


NUMPY = {"I8": "<i1", "U8": "<u1", "F32": "<u4"}


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


LAYOUTS = {"bnb-int8": bnb_int8}


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
