#!/usr/bin/env bash
# `qforge export --format hf --quant quip-sharp` (docs/hf-quantized.md §10) of a `quantize --method
# quip_sharp:fused` run: config.json carries quip_params (no quantization_config), every decoder layer holds
# quip-sharp's fused modules self_attn.qkv_proj and mlp.upgate_proj (Qidxs, SU, SV, Wscale, codebook_id,
# fuse_scales) and o_proj / down_proj as plain QuantizedLinears, and no q/k/v/gate/up tensor; `qforge probs --hf`
# reads it back (splitting the fused weights) and its next-token probabilities are the run's within the fp16
# rounding of SU and SV * Wscale (bound below). The intermediate size 192 makes upgate_proj 384 = 12 * 32 rows
# and down_proj 192 = 12 * 16 columns: quip-sharp's had12 Hadamard factor. Refusals: a per-projection QuIP#
# run (names the layer and the fix), a float run, sizes without quip-sharp's had12 / Sylvester transform.
#   hf_quant_quip_sharp.sh QFORGE PYTHON -> "quip-sharp ok: ..."
set -euo pipefail
qforge=$1 python=$2
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
tokens=3,17,0,42,42,7,63,5,29,11
fail() { echo "FAILED: $*"; exit 1; }

train() {  # train NAME INTERMEDIATE
  cat > "$work/$1.pbtxt" <<CONFIG
model { llama { hidden_size: 64 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: $2 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 40 log_every: 20 eval_batches: 2 seed: 1 }
CONFIG
  "$qforge" train --config "$work/$1.pbtxt" --run-dir "$work/$1" > /dev/null
}
quip() {  # quip FLOAT NAME METHOD
  "$qforge" quantize --checkpoint "$work/$1" --scheme fp16 --keep-float lm_head --keep-float model.embed_tokens \
    --method "$3" --calibration-batches 2 -o "$work/$2" > /dev/null
}
refused() {  # refused RUN EXPECTED: the export fails naming EXPECTED
  if "$qforge" export --checkpoint "$work/$1" --format hf --quant quip-sharp -o "$work/$1.hf" > "$work/$1.err" 2>&1; then
    fail "$1: exported"
  fi
  grep -qF -- "$2" "$work/$1.err" || { cat "$work/$1.err"; fail "$1: the refusal does not say '$2'"; }
}

train float 192
quip float fused quip_sharp:fused
"$qforge" probs --checkpoint "$work/fused" --tokens "$tokens" > "$work/fused.json"
"$qforge" export --checkpoint "$work/fused" --format hf --quant quip-sharp -o "$work/fused.hf" > "$work/fused.out"
"$qforge" probs --hf "$work/fused.hf" --tokens "$tokens" > "$work/fused.hf.json"
"$python" - "$work/fused.hf" <<'PY' || fail "the folder is not quip-sharp's layout"
import json, struct, sys
d = sys.argv[1]
config = json.load(open(f"{d}/config.json"))
assert "quantization_config" not in config and config["quip_params"]["codebook"] == "E8P12", config.keys()
with open(f"{d}/model.safetensors", "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
for i in range(2):
    for module, rows, cols, parts in (("self_attn.qkv_proj", 128, 64, 3), ("mlp.upgate_proj", 384, 64, 2),
                                      ("self_attn.o_proj", 64, 64, 0), ("mlp.down_proj", 64, 192, 0)):
        p = f"model.layers.{i}.{module}"
        want = {"Qidxs": ("I64", [rows, cols // 32]), "SU": ("F16", [cols]), "SV": ("F16", [rows]),
                "Wscale": ("F32", []), "codebook_id": ("I64", [])}
        if parts:
            want["fuse_scales"] = ("F32", [parts])
        got = {k[len(p) + 1:]: (v["dtype"], v["shape"]) for k, v in header.items() if k.startswith(p + ".")}
        assert got == want, (p, got)
        if parts:
            b, e = header[p + ".fuse_scales"]["data_offsets"]
            assert struct.unpack(f"<{parts}f", data[b:e]) == (1.0,) * parts, p
    for gone in ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj"):
        assert not any(f".{gone}." in k for k in header), gone
print("layout ok")
PY
diff=$("$python" "$here/exporters/hf_export_check.py" maxdiff "$work/fused.json" "$work/fused.hf.json")
note=$(grep -o "differ from the run's by up to [0-9.e+-]*" "$work/fused.out" | awk '{print $NF}')
# Bound 1e-4: SV * Wscale (and SU) in fp16 move each weight by at most 2^-11 = 4.9e-4 of itself (the note's figure
# is the largest absolute change); measured 1.4e-6 on next-token probabilities, so 1e-4 is 70x that and 5x below
# the relative weight rounding. A reader that takes every part from row 0 of its fused module moved them by 0.145 (tried).
"$python" -c "import sys; d = float(sys.argv[1]); assert 0 < d < 1e-4, d" "$diff" ||
  fail "--hf probabilities differ from the run's by $diff"

quip float single quip_sharp
refused single "model.layers.0.self_attn.q_proj.weight is a QuIP# matrix of its own, but quip-sharp's model/llama.py holds model.layers.0.self_attn.qkv_proj as one matrix fused over its parts (quantize with --method quip_sharp:fused)"
refused float "model.layers.0.self_attn.q_proj.weight is float, but quip-sharp's model/llama.py builds every decoder Linear"
train wide 160  # upgate_proj 320 = 20 * 16 rows: quip-sharp's had20, not written
quip wide widefused quip_sharp:fused
refused widefused "model.layers.0.mlp.upgate_proj: QuIP# shape [320, 64]: out a multiple of 16 and in of 64, each 2^k or 12 * 2^k"
echo "quip-sharp ok: --hf vs the run's probs max |dp| = $diff (weights within $note); per-projection, float and 20 * 2^k runs refused"
