#!/usr/bin/env bash
# `qforge quantize --method ...` on a small char-level Llama trained on fortunes: the GPTQ run folder
# evaluates to what quantize printed (eval rebuilds it from the checkpoint), and at 3 bits GPTQ, GPTQ
# act-order and AWQ land closer to the float model's validation loss than round to nearest. The QuIP#
# run (2 bits per weight, its decoded weights in fp16) also evaluates to what quantize printed.
set -euo pipefail
qforge=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/float.pbtxt" <<CONFIG
model { llama { hidden_size: 64 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 128 max_position_embeddings: 64 } }
data { text { corpus_end: 0.3 } batch_size: 16 }
optimizer { name: "adamw" lr: 0.003 }
trainer { steps: 1000 log_every: 100 eval_batches: 8 seed: 3 }
CONFIG
"$qforge" train --config "$work/float.pbtxt" --run-dir "$work/float" > "$work/float.out"
float=$(tail -n 1 "$work/float.out" | sed 's/.*val_loss=\([0-9.]*\).*/\1/')
loss() { "$qforge" quantize --checkpoint "$work/float" --scheme int3:g16:asym --keep-float lm_head --method "$1" \
           --calibration-batches 8 -o "$work/$2" | head -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/'; }
rtn=$(loss rtn rtn); gptq=$(loss gptq gptq); act=$(loss gptq:act_order act); awq=$(loss awq awq)
echo "float $float  rtn $rtn  gptq $gptq  gptq act_order $act  awq $awq (int3 g16 asym)"
[ "$("$qforge" eval --checkpoint "$work/gptq" | tail -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/')" = "$gptq" ] ||
  { echo "eval of the GPTQ run differs from quantize"; exit 1; }
quip=$("$qforge" quantize --checkpoint "$work/float" --scheme fp16 --keep-float lm_head --method quip_sharp \
         --calibration-batches 8 -o "$work/quip" | head -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/')
echo "quip_sharp $quip (2 bits per weight)"
[ "$("$qforge" eval --checkpoint "$work/quip" | tail -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/')" = "$quip" ] ||
  { echo "eval of the QuIP# run differs from quantize"; exit 1; }
/usr/bin/python3 - "$float" "$rtn" "$gptq" "$act" "$awq" <<'PY'
import sys
f, rtn, gptq, act, awq = map(float, sys.argv[1:])
assert rtn > f, "round to nearest costs nothing: the check cannot separate the methods"
assert gptq < rtn and act < rtn, "GPTQ does not beat round to nearest"
assert awq < rtn, "AWQ does not beat round to nearest"
gap = lambda x: f"{100 * (rtn - x) / (rtn - f):.0f}%"
print(f"of round to nearest's gap GPTQ recovers {gap(gptq)}, act-order {gap(act)}, AWQ {gap(awq)}")
PY
echo "gptq and awq beat round to nearest"
