#!/usr/bin/env bash
# `qforge quantize --method quip_sharp` on the small char-level Llama of quantize_ptq.sh: the run folder
# holds each layer's QuIP# codes, SU, SV and Wscale (docs/quip_sharp.md §4), `qforge eval` rebuilds the
# model from them and prints the loss quantize printed, and an F32 GGUF export holds the decoded weights
# (its evaluation gives the same loss).
source "$(dirname "$0")/small_float_run.sh" "$1"
val_loss() { sed 's/.*val_loss=\([0-9.]*\).*/\1/'; }
quip=$("$qforge" quantize --checkpoint "$work/float" --scheme fp16 --keep-float lm_head --method quip_sharp \
         --calibration-batches 8 -o "$work/quip" | head -n 1 | val_loss)
eval=$("$qforge" eval --checkpoint "$work/quip" | tail -n 1 | val_loss)
echo "float $float  quip_sharp $quip  eval of the saved run $eval"
[ "$eval" = "$quip" ] || { echo "eval of the QuIP# run differs from quantize"; exit 1; }
for part in codes su sv wscale quip_sharp_layout; do
  grep -qa "model.layers.1.mlp.down_proj.weight_quantizer.$part" "$work/quip/checkpoint.bin" ||
    { echo "the checkpoint holds no QuIP# $part"; exit 1; }
done
"$qforge" export --checkpoint "$work/quip" --type F32 -o "$work/quip.gguf" 2> "$work/export.err"
grep -q "down_proj.weight (a post-training method's codes) is exported as its decoded values" "$work/export.err" ||
  { echo "the export does not say the QuIP# weights are decoded"; cat "$work/export.err"; exit 1; }
gguf=$("$qforge" eval --checkpoint "$work/quip" --gguf "$work/quip.gguf" | tail -n 1 | val_loss)
echo "F32 GGUF of the decoded weights $gguf"
/usr/bin/python3 -c "import sys; f, q, g = map(float, sys.argv[1:]); assert q > f, 'QuIP# costs nothing: the check cannot fail'; \
assert abs(g - q) < 1e-5, f'GGUF export {g} != {q}'" "$float" "$quip" "$gguf"
echo "quip_sharp run folder evaluates as quantized"
