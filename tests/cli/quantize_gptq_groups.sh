#!/usr/bin/env bash
# `qforge quantize --method gptq:act_order,dynamic_groups` (act-order without static groups: g_idx) on
# the small char-level Llama of quantize_ptq.sh: the run folder evaluates to what quantize printed (eval
# rebuilds the group-index weight quantizers from the checkpoint), an F32 GGUF export of it evaluates to
# the same loss (the exporter writes the quantized values), and both act-order variants beat round to
# nearest at 3 bits.
source "$(dirname "$0")/small_float_run.sh" "$1"
val_loss() { tail -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/'; }
loss() { "$qforge" quantize --checkpoint "$work/float" --scheme int3:g16:asym --keep-float lm_head --method "$1" \
           --calibration-batches 8 -o "$work/$2" | head -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/'; }
rtn=$(loss rtn rtn); static=$(loss gptq:act_order static); dynamic=$(loss gptq:act_order,dynamic_groups dynamic)
echo "float $float  rtn $rtn  gptq act_order static groups $static  dynamic groups $dynamic (int3 g16 asym)"
eval_dynamic=$("$qforge" eval --checkpoint "$work/dynamic" | val_loss)
[ "$eval_dynamic" = "$dynamic" ] || { echo "eval of the dynamic-groups run gives $eval_dynamic, quantize printed $dynamic"; exit 1; }
grep -qa 'self_attn.q_proj.weight_quantizer.g_idx' "$work/dynamic/checkpoint.bin" || { echo "the checkpoint holds no g_idx buffer"; exit 1; }
"$qforge" export --checkpoint "$work/dynamic" --type F32 -o "$work/dynamic.gguf" > "$work/export.out" 2>&1
gguf_loss=$("$qforge" eval --checkpoint "$work/dynamic" --gguf "$work/dynamic.gguf" | val_loss)
[ "$gguf_loss" = "$dynamic" ] || { echo "the F32 export evaluates to $gguf_loss, the run to $dynamic"; cat "$work/export.out"; exit 1; }
/usr/bin/python3 - "$float" "$rtn" "$static" "$dynamic" <<'PY'
import sys
f, rtn, static, dynamic = map(float, sys.argv[1:])
assert rtn > f, "round to nearest costs nothing: the check cannot separate the methods"
assert static < rtn and dynamic < rtn, "GPTQ act-order does not beat round to nearest"
assert static != dynamic, "dynamic groups gave the static-groups result"
gap = lambda x: f"{100 * (rtn - x) / (rtn - f):.0f}%"
print(f"of round to nearest's gap act-order recovers {gap(static)} with static groups, {gap(dynamic)} with dynamic groups")
PY
echo "gptq dynamic groups reload and export exactly"
