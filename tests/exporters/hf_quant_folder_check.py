"""Independent checks of `qforge export --format hf --quant` folders (exporters/hf/hf_quant_export.h, docs/hf.md
§11), run with Debian's /usr/bin/python3 (numpy). The safetensors files are parsed with json + struct
(hf_export_check.read_folder), and every packed Linear is dequantized here with its layout's published formula
(docs/hf-quantized.md §2-§9), written from the note, not from the C++:

  dequant QDIR F32DIR exact|f16|f32|fp16|float [OUTDIR]
                                  every packed Linear of QDIR dequantized must equal the same weight of F32DIR
                                  (`export --format hf` of the same run: the values its forward uses) bit for
                                  bit (exact), or within the F16 rounding of its scales, |ΔW| <= 2^-11·|W| (f16),
                                  within float32 rounding, |ΔW| <= 2^-21·|W| (f32: bitsandbytes int8's SCB / 127),
                                  within |ΔW| <= 2^-9·max|W| (fp16: SpQR's fp16 statistics and arithmetic),
                                  or (float: F32DIR is the float run quantized at export) only its shape, the
                                  quantization error printed; every other tensor of QDIR must equal F32DIR's. With OUTDIR: an F32 folder of
                                  QDIR's values dequantized here (config.json without quantization_config), whose
                                  probabilities must equal `probs --hf QDIR`'s. Prints "dequant ok: ...".
  requant-fp4 QDIR F32DIR          QDIR is a bnb-fp4 folder of a float run: every packed Linear's tensors must be
                                  numpy's bitsandbytes quantize_4bit(quant_type="fp4") of F32DIR's weight
                                  (hf_quant_reference.quantize_fp4: the CUDA decision tree, double quantization)
                                  byte for byte. Prints "requant ok: ...".
  sizes DIR...                    the bytes of each folder's safetensors files.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_export_check as hec  # noqa: E402
import hf_reference  # noqa: E402

hec.DTYPES.update({"I32": ("<i4", 4), "I64": ("<i8", 8), "U8": ("u1", 1), "I8": ("i1", 1), "F8_E4M3": ("u1", 1)})
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def array(t):
    dtype, shape, raw = t
    if dtype in ("F32", "F16", "BF16"):
        return hec.decode(dtype, shape, raw)
    return np.frombuffer(raw, hec.DTYPES[dtype][0]).reshape(shape)


def lsb_stream(words, count, bits):
    """Values k = 0..count-1 of the LSB-first bit stream down axis 0 of uint32 words [R, C] -> [count, C]."""
    w = words.astype(np.uint32)
    stream = ((w[:, None, :] >> np.arange(32, dtype=np.uint32)[None, :, None]) & 1).reshape(-1, w.shape[1])
    chunks = stream[:count * bits].reshape(count, bits, w.shape[1]).astype(np.int64)
    return (chunks << np.arange(bits)[None, :, None]).sum(axis=1)


def gptq(t, p, c):
    bits, scales, g_idx = c["bits"], array(t[p + ".scales"]), array(t[p + ".g_idx"]).astype(np.int64)
    q = lsb_stream(array(t[p + ".qweight"]).view(np.uint32), len(g_idx), bits)            # [in, out]
    z = lsb_stream(array(t[p + ".qzeros"]).view(np.uint32).T, scales.shape[1], bits).T  # [G, out]
    z = z + (1 if c.get("checkpoint_format", "gptq") == "gptq" else 0)                   # v1 stores z - 1
    return (scales[g_idx, :] * (q - z[g_idx, :]).astype(np.float32)).T


def awq_unpack(words):
    w = words.view(np.uint32)
    out = np.zeros((w.shape[0], w.shape[1] * 8), np.int64)
    for n, col in enumerate(AWQ_ORDER):
        out[:, col::8] = (w >> (4 * n)) & 0xF
    return out


def awq(t, p, c):
    q, z, s = awq_unpack(array(t[p + ".qweight"])), awq_unpack(array(t[p + ".qzeros"])), array(t[p + ".scales"])
    gs = q.shape[0] if c["group_size"] == -1 else c["group_size"]
    g = np.arange(q.shape[0]) // gs
    return ((q - z[g, :]).astype(np.float32) * s[g, :]).T


def compressed_tensors(t, p, c):
    weights = next(iter(c["config_groups"].values()))["weights"]
    bits = weights["num_bits"]
    out, n_in = (int(v) for v in array(t[p + ".weight_shape"]))
    q = lsb_stream(array(t[p + ".weight_packed"]).view(np.uint32).T, n_in, bits).T  # [out, in]
    s = array(t[p + ".weight_scale"])                                                 # [out, G]
    gs = n_in if weights["strategy"] == "channel" else weights["group_size"]
    g = array(t[p + ".weight_g_idx"]).astype(np.int64) if p + ".weight_g_idx" in t else np.arange(n_in) // gs
    z = np.full(s.shape, 1 << (bits - 1), np.int64)
    if p + ".weight_zero_point" in t:
        z = lsb_stream(array(t[p + ".weight_zero_point"]).view(np.uint32), out, bits)
    return (q - z[:, g]).astype(np.float32) * s[:, g]


def bitsandbytes(t, p, c):
    state_name = next(n for n in t if n.startswith(p + ".weight.quant_state.bitsandbytes__"))
    state = json.loads(array(t[state_name]).tobytes().decode())
    out, n_in = state["shape"]
    bytes_ = array(t[p + ".weight"]).reshape(-1)
    codes = np.stack([bytes_ >> 4, bytes_ & 0xF], axis=1).reshape(-1)[:out * n_in]    # high nibble first
    absmax = array(t[p + ".weight.absmax"])
    if absmax.dtype == np.uint8:  # double quantization: two float32 roundings
        nested = array(t[p + ".weight.nested_absmax"])
        absmax = array(t[p + ".weight.nested_quant_map"])[absmax] * nested[np.arange(len(absmax)) // 256]
        absmax = (absmax + np.float32(state["nested_offset"])).astype(np.float32)
    block = np.arange(out * n_in) // state["blocksize"]
    return (array(t[p + ".weight.quant_map"])[codes] * absmax[block]).reshape(out, n_in)


def bnb_int8(t, p, c):
    """bitsandbytes int8_vectorwise_dequant: (CB * SCB) * 7.874015718698502e-3, float32 throughout."""
    cb, scb = array(t[p + ".weight"]).astype(np.float32), array(t[p + ".SCB"])
    return (cb * scb[:, None]).astype(np.float32) * np.float32(7.874015718698502e-3)


def e4m3_values():
    """OCP OFP8 E4M3: S.EEEE.MMM, bias 7, subnormals at exponent 0, S.1111.111 NaN."""
    code = np.arange(256)
    e, m = (code >> 3) & 0xF, (code & 7).astype(np.float64)
    v = np.where(e == 0, m / 8 * 2.0 ** -6, (1 + m / 8) * 2.0 ** (e - 7))
    v = np.where((e == 0xF) & (m == 7), np.nan, v)
    return np.where(code & 0x80, -v, v).astype(np.float32)


def fp8(t, p, c):
    """compressed-tensors float-quantized: decode(weight) * weight_scale ([1] or [out, 1])."""
    return e4m3_values()[array(t[p + ".weight"])] * array(t[p + ".weight_scale"]).reshape(-1, 1)


def w8a8(t, p, c):
    """compressed-tensors int-quantized: (weight - weight_zero_point) * weight_scale, [out, 1] per channel."""
    q = array(t[p + ".weight"]).astype(np.int64)
    z = array(t[p + ".weight_zero_point"]).astype(np.int64) if p + ".weight_zero_point" in t else 0
    return (q - z).astype(np.float32) * array(t[p + ".weight_scale"]).reshape(-1, 1)


def spqr(t, p, c):
    """SpQR (spqr_quant's dequantize_compressed): per 16 x 16 tile one uint64 word per row: ws bits 0-2, wz 3-5,
    code l at 6 + 3l, byte k // 2 of the tile's four fp16 statistics (scale.scale, zero.scale, scale.zero,
    zero.zero) at 54-61; s = ss * (ws - sz), z = zs * (wz - zz), w = s * (q - z) in fp16; fp16 outliers of
    col_vals (column low 16 bits) added in float32, rounded to fp16; columns permuted back by in_perm."""
    offsets = array(t[p + ".row_offsets"]).astype(np.int64)
    pairs = array(t[p + ".in_perm"]).view(np.uint32)
    perm = np.stack([pairs & 0xFFFF, pairs >> 16], axis=1).reshape(-1).astype(np.int64)
    m, n = len(offsets) - 1, len(perm)
    for name in (".dense_weights", ".row_offsets", ".col_vals", ".in_perm"):
        if c["shapes"][p + name + ".shape"] != array(t[p + name]).shape[0]:
            hec.fail(f"{p}{name}: quantization_config.shapes disagrees with the file")
    word = array(t[p + ".dense_weights"]).view(np.uint64).reshape(m // 16, n // 16, 16)  # [R, C, row k]
    field = lambda shift: ((word >> np.uint64(shift)) & np.uint64(7)).astype(np.float16)  # noqa: E731
    record = ((word[:, :, 0::2] >> np.uint64(54)) & np.uint64(0xFF)).astype(np.uint8)     # [R, C, 8 bytes]
    ss, zs, sz, zz = (record.copy().view(np.float16)[:, :, f][:, :, None] for f in range(4))
    s, z = ss * (field(0) - sz), zs * (field(3) - zz)                                        # [R, C, k]
    q = np.stack([field(6 + 3 * l) for l in range(16)], axis=-1)                            # [R, C, k, l]
    dense = (s[..., None] * (q - z[..., None])).transpose(0, 2, 1, 3).reshape(m, n)
    w = dense.astype(np.float32)
    vals = array(t[p + ".col_vals"]).view(np.uint32)
    rows = np.repeat(np.arange(m), np.diff(offsets))
    np.add.at(w, (rows, (vals & 0xFFFF).astype(np.int64)), (vals >> 16).astype(np.uint16).view(np.float16).astype(np.float32))
    out = np.empty_like(w)
    out[:, perm] = w.astype(np.float16).astype(np.float32)
    return out


def layout_of(c):
    """(marker, formula) by quant_method and, where a method has several layouts, its format key."""
    method = c["quant_method"]
    if method == "compressed-tensors":
        return {"pack-quantized": ("weight_packed", compressed_tensors), "float-quantized": ("weight_scale", fp8),
                "int-quantized": ("weight_scale", w8a8)}[c["format"]]
    if method == "bitsandbytes":
        return ("SCB", bnb_int8) if c.get("load_in_8bit") else ("weight.absmax", bitsandbytes)
    return {"gptq": ("qweight", gptq), "awq": ("qweight", awq), "spqr": ("dense_weights", spqr)}[method]


def write_f32(qdir, out_dir, tensors):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(hf_reference.safetensors_bytes(sorted(tensors.items()), "F32"))
    cfg = json.load(open(os.path.join(qdir, "config.json")))
    del cfg["quantization_config"]
    cfg["torch_dtype"] = "float32"
    json.dump(cfg, open(os.path.join(out_dir, "config.json"), "w"), indent=2)


def dequant(qdir, f32dir, mode, out_dir=None):
    c = json.load(open(os.path.join(qdir, "config.json")))["quantization_config"]
    marker, formula = layout_of(c)
    packed, _, _ = hec.read_folder(qdir)
    plain, _, _ = hec.read_folder(f32dir)
    modules = sorted(n[:-len(marker) - 1] for n in packed if n.endswith("." + marker))
    if not modules:
        hec.fail(f"{qdir}: no module holds .{marker}")
    worst, bound, values = 0.0, 2.0 ** -11, {}
    for p in modules:
        w, ref = formula(packed, p, c).astype(np.float32), array(plain[p + ".weight"])
        values[p + ".weight"] = w.astype(np.float64)
        if w.shape != ref.shape:
            hec.fail(f"{p}: dequantized shape {w.shape}, the F32 export has {ref.shape}")
        diff = np.abs(w.astype(np.float64) - ref)
        worst = max(worst, float(diff.max()))
        if mode == "exact" and not np.array_equal(w.view(np.uint32), ref.view(np.uint32)):
            hec.fail(f"{p}: {int((diff > 0).sum())} elements differ from the run's (max {diff.max():.3e})")
        if mode == "f16" and (diff > bound * np.abs(ref) + 1e-30).any():
            hec.fail(f"{p}: max |dW| {diff.max():.3e} exceeds the F16 scale rounding 2^-11 |W|")
        if mode == "f32" and (diff > 2.0 ** -21 * np.abs(ref) + 1e-30).any():
            hec.fail(f"{p}: max |dW| {diff.max():.3e} exceeds float32 rounding 2^-21 |W|")
        if mode == "fp16" and (diff > 2.0 ** -9 * np.abs(ref).max()).any():
            hec.fail(f"{p}: max |dW| {diff.max():.3e} exceeds 2^-9 max|W| (fp16 statistics)")
    own = {n for p in modules for n in packed if n.startswith(p + ".") and n != p + ".bias"}
    for name in sorted(set(packed) - own):
        if packed[name] != plain[name]:
            hec.fail(f"{name}: the float tensor differs from the F32 export's")
        values[name] = array(packed[name]).astype(np.float64)
    if out_dir:
        write_f32(qdir, out_dir, values)
    agree = {"exact": "= the run's weights bit for bit", "f16": "= the run's weights within F16 scale rounding",
             "f32": "= the run's weights within float32 rounding", "fp16": "= the run's weights within fp16 statistics",
             "float": "vs the float weights"}[mode]
    print(f"dequant ok: {len(modules)} {c['quant_method']} Linears dequantized by the published formula {agree} "
          f"(max abs diff {worst:.3e}), {len(set(packed) - own)} float tensors equal")


def requant_fp4(qdir, f32dir):
    import hf_quant_reference as ref
    c = json.load(open(os.path.join(qdir, "config.json")))["quantization_config"]
    packed, _, _ = hec.read_folder(qdir)
    plain, _, _ = hec.read_folder(f32dir)
    modules = sorted(n[:-len(".weight.absmax")] for n in packed if n.endswith(".weight.absmax"))
    if c.get("bnb_4bit_quant_type") != "fp4" or not modules:
        hec.fail(f"{qdir}: not a bnb-fp4 folder with packed Linears")
    elements, subnormal = 0, 0
    for p in modules:
        state = json.loads(array(packed[p + ".weight.quant_state.bitsandbytes__fp4"]).tobytes().decode())
        w = array(plain[p + ".weight"]).astype(np.float32)
        case = {"name": p, "double_quant": "nested_offset" in state, "blocksize": state["blocksize"],
                "out": w.shape[0], "in": w.shape[1], "dtype": state["dtype"], "x": w.reshape(-1)}
        tensors, _, _ = ref.bitsandbytes(ref.quantize_fp4(case))
        for name, (dtype, values) in tensors.items():
            raw = np.asarray(values).astype("u1" if dtype == "U8" else "<u4").tobytes()
            if name not in packed or packed[name][0] != dtype or packed[name][2] != raw:
                hec.fail(f"{name}: differs from numpy's bitsandbytes fp4 quantization of the F32 weight")
        elements += w.size
        subnormal += int(((case["codes"] & 7) == 1).sum())
    print(f"requant ok: {len(modules)} Linears = numpy's bitsandbytes fp4 quantize_4bit of the F32 weights byte for "
          f"byte ({elements} codes, {subnormal} of them ±1/192)")


def sizes(folders):
    for d in folders:
        n = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors"))
        print(f"{os.path.basename(d.rstrip('/'))} {n}")


if __name__ == "__main__":
    if sys.argv[1] == "dequant":
        dequant(*sys.argv[2:6])
    elif sys.argv[1] == "requant-fp4":
        requant_fp4(*sys.argv[2:4])
    elif sys.argv[1] == "sizes":
        sizes(sys.argv[2:])
    else:
        sys.exit(__doc__)
