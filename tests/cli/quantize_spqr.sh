#!/usr/bin/env bash
# `qforge quantize --method spqr` on the small char-level Llama of quantize_ptq.sh: the SpQR run folder
# evaluates to what quantize printed (eval rebuilds the SpQR weight quantizers from the checkpoint),
# SpQR beats round to nearest, its outliers help, and it beats GPTQ act-order on an int3 grid that costs
# more bits per weight (g32 asym with FP32 scales: 3 + 35/32 = 4.09 against SpQR's 3.625 + 32 x 1%).
source "$(dirname "$0")/small_float_run.sh" "$1"
loss() { "$qforge" quantize --checkpoint "$work/float" --scheme "$1" --keep-float lm_head --method "$2" \
           --calibration-batches 8 -o "$work/$3" 2> "$work/$3.err" | head -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/'; }
rtn=$(loss int3:g16:asym rtn rtn)
act16=$(loss int3:g16:asym gptq:act_order act16)
act32=$(loss int3:g32:asym gptq:act_order act32)
spqr=$(loss int3:g16:asym spqr spqr)
none=$(loss int3:g16:asym spqr:outlier_fraction=0 none)
cat "$work/spqr.err" "$work/none.err"
echo "float $float  rtn g16 $rtn  gptq act_order g16 $act16 g32 $act32  spqr $spqr  spqr without outliers $none"
[ "$("$qforge" eval --checkpoint "$work/spqr" | tail -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/')" = "$spqr" ] ||
  { echo "eval of the SpQR run differs from quantize"; exit 1; }
/usr/bin/python3 - "$float" "$rtn" "$act16" "$act32" "$spqr" "$none" <<'PY'
import sys
f, rtn, act16, act32, spqr, none = map(float, sys.argv[1:])
assert rtn > f, "round to nearest costs nothing: the check cannot separate the methods"
assert spqr < rtn, "SpQR does not beat round to nearest"
assert spqr < none, "SpQR's outliers do not help"
assert spqr < act32, "SpQR (3.95 bits) does not beat GPTQ act-order int3 g32 asym (4.09 bits)"
gap = lambda x: f"{100 * (rtn - x) / (rtn - f):.0f}%"
print(f"of round to nearest's gap SpQR recovers {gap(spqr)}, without outliers {gap(none)}, "
      f"GPTQ act-order g32 {gap(act32)}, g16 {gap(act16)}")
PY
echo "spqr beats round to nearest and gptq act-order at more bits"
