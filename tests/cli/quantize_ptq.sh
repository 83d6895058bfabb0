#!/usr/bin/env bash
# `qforge quantize --method ...` on a small char-level Llama trained on fortunes: the GPTQ run folder
# evaluates to what quantize printed (eval rebuilds it from the checkpoint), and at 3 bits GPTQ, GPTQ
# act-order and AWQ land closer to the float model's validation loss than round to nearest. LLM.int8()
# (int8:channel weights, the method's int8:token:outlier6 inputs) lands within 0.01 of float, prints its
# outlier columns per layer, and its run folder evaluates to what quantize printed; a threshold above every
# value is plain vector-wise int8, i.e. round to nearest with int8:token inputs. The QuIP#
# run (2 bits per weight, its decoded weights in fp16) also evaluates to what quantize printed.
source "$(dirname "$0")/small_float_run.sh" "$1"
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

final_loss() { grep '^final:' | sed 's/.*val_loss=\([0-9.]*\).*/\1/'; }
w8() { "$qforge" quantize --checkpoint "$work/float" --scheme int8:channel --keep-float lm_head --keep-float model.embed_tokens \
       --calibration-batches 8 -o "$work/$1" "${@:2}"; }
w8 int8 --method llm_int8 > "$work/int8.out"
grep -q '^llm_int8 model.layers.1.mlp.down_proj outlier_columns=[0-9.]*%' "$work/int8.out" ||
  { echo "llm_int8 printed no outlier fraction"; cat "$work/int8.out"; exit 1; }
grep '^llm_int8 .*down_proj' "$work/int8.out"
int8=$(final_loss < "$work/int8.out")
plain=$(w8 plain --method llm_int8:threshold=1e9 | final_loss)
rtn8=$(w8 rtn8 --method rtn --input-scheme int8:token | final_loss)
echo "float $float  llm_int8 $int8  llm_int8 threshold=1e9 $plain  rtn int8:token $rtn8 (int8:channel weights)"
[ "$("$qforge" eval --checkpoint "$work/int8" | final_loss)" = "$int8" ] || { echo "eval of the llm_int8 run differs from quantize"; exit 1; }
grep -q 'scheme: "int8:token:outlier6"' "$work/int8/config.pbtxt" || { echo "the run config lacks the method's input scheme"; exit 1; }
[ "$plain" = "$rtn8" ] || { echo "llm_int8 without outliers is not round to nearest with int8:token inputs"; exit 1; }
if w8 clash --method llm_int8 --input-scheme int8:token > "$work/clash.out" 2>&1; then echo "a clashing input scheme was accepted"; exit 1; fi
grep -q "leave the input scheme out" "$work/clash.out" || { echo "unexpected error:"; cat "$work/clash.out"; exit 1; }
/usr/bin/python3 -c "import sys; f, q = map(float, sys.argv[1:]); assert abs(q - f) < 0.01, f'llm_int8 {q} is not within 0.01 of float {f}'" "$float" "$int8"
echo "gptq and awq beat round to nearest"
