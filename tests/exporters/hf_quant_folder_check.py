"""Independent checks of `qforge export --format hf --quant` folders (exporters/hf/hf_quant_export.h, docs/hf.md
§11), run with Debian's /usr/bin/python3 (numpy). The safetensors files are parsed with json + struct
(hf_export_check.read_folder), and every packed Linear is dequantized here with its layout's published formula
(docs/hf-quantized.md §2-§5), written from the note, not from the C++:

  dequant QDIR F32DIR exact|f16|float [OUTDIR]
                                  every packed Linear of QDIR dequantized must equal the same weight of F32DIR
                                  (`export --format hf` of the same run: the values its forward uses) bit for
                                  bit (exact), or within the F16 rounding of its scales, |ΔW| <= 2^-11·|W| (f16),
                                  or (float: F32DIR is the float run quantized at export) only its shape, the
                                  quantization error printed; every other tensor of QDIR must equal F32DIR's. With OUTDIR: an F32 folder of
                                  QDIR's values dequantized here (config.json without quantization_config), whose
                                  probabilities must equal `probs --hf QDIR`'s. Prints "dequant ok: ...".
  sizes DIR...                    the bytes of each folder's safetensors files.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_export_check as hec  # noqa: E402
import hf_reference  # noqa: E402

hec.DTYPES.update({"I32": ("<i4", 4), "I64": ("<i8", 8), "U8": ("u1", 1)})
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


LAYOUTS = {"gptq": ("qweight", gptq), "awq": ("qweight", awq), "compressed-tensors": ("weight_packed", compressed_tensors),
           "bitsandbytes": ("weight.absmax", bitsandbytes)}


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
    marker, formula = LAYOUTS[c["quant_method"]]
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
    own = {n for p in modules for n in packed if n.startswith(p + ".") and n != p + ".bias"}
    for name in sorted(set(packed) - own):
        if packed[name] != plain[name]:
            hec.fail(f"{name}: the float tensor differs from the F32 export's")
        values[name] = array(packed[name]).astype(np.float64)
    if out_dir:
        write_f32(qdir, out_dir, values)
    agree = {"exact": "= the run's weights bit for bit", "f16": "= the run's weights within F16 scale rounding",
             "float": "vs the float weights"}[mode]
    print(f"dequant ok: {len(modules)} {c['quant_method']} Linears dequantized by the published formula {agree} "
          f"(max abs diff {worst:.3e}), {len(set(packed) - own)} float tensors equal")


def sizes(folders):
    for d in folders:
        n = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors"))
        print(f"{os.path.basename(d.rstrip('/'))} {n}")


if __name__ == "__main__":
    if sys.argv[1] == "dequant":
        dequant(*sys.argv[2:6])
    elif sys.argv[1] == "sizes":
        sizes(sys.argv[2:])
    else:
        sys.exit(__doc__)
