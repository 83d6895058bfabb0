#!/usr/bin/env bash
# `qforge quantize`'s method option flags (cli/method_flags.h, generated from ptq/registry.cpp) and the
# run config's quantization.ptq: --method gptq --act-order --damp 0.02 is --method gptq:act_order,damp=0.02
# bit for bit, and so are --config <that run's config.pbtxt> and --set quantization.ptq.*; the quantized
# run records method, options and calibration sample count; --calib-samples 32 is 2 batches of 16 and 24
# (a short last batch) is not; --group-size 16 is the scheme's g16; a flag the method does not take, an
# option given twice and a group on a grouped scheme are errors naming the flag / option; --help lists the flags.
set -euo pipefail
qforge=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/float.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { corpus_end: 0.1 } batch_size: 16 }
trainer { steps: 60 log_every: 30 eval_batches: 4 seed: 5 }
CONFIG
"$qforge" train --config "$work/float.pbtxt" --run-dir "$work/float" > /dev/null
q() { out=$1; shift; "$qforge" quantize --checkpoint "$work/float" -o "$work/$out" "$@" | head -n 1; }
same() {  # same val_loss line and checkpoint bytes
  [ "$1" = "$2" ] || { echo "$3: '$1' != '$2'"; exit 1; }
  cmp -s "$work/$4/checkpoint.bin" "$work/$5/checkpoint.bin" || { echo "$3: checkpoints $4 and $5 differ"; exit 1; }
}
string=$(q string --scheme int3:g16:asym --keep-float lm_head --method gptq:act_order,damp=0.02 --calibration-batches 2)
flags=$(q flags --scheme int3:g16:asym --keep-float lm_head --method gptq --act-order --damp 0.02 --calibration-batches 2)
echo "method string: $string"; echo "flags:         $flags"
same "$string" "$flags" "flags vs method string" string flags
grep -q 'method: "gptq"' "$work/flags/config.pbtxt" && grep -q 'options: "damp=0.02,act_order"' "$work/flags/config.pbtxt" &&
  grep -q 'calibration_samples: 32' "$work/flags/config.pbtxt" || { echo "the run config lacks quantization.ptq"; cat "$work/flags/config.pbtxt"; exit 1; }
same "$string" "$(q config --config "$work/flags/config.pbtxt")" "--config of the quantized run" string config
same "$string" "$(q set --scheme int3:g16:asym --keep-float lm_head --set quantization.ptq.method=gptq --set quantization.ptq.options=act_order,damp=0.02 \
                   --set quantization.ptq.calibration_samples=32)" "--set quantization.ptq" string set
same "$string" "$(q samples --scheme int3:g16:asym --keep-float lm_head --method gptq --act-order --damp 0.02 --calib-samples 32)" "--calib-samples 32" string samples
short=$(q short --scheme int3:g16:asym --keep-float lm_head --method gptq --act-order --damp 0.02 --calib-samples 24)
! cmp -s "$work/string/checkpoint.bin" "$work/short/checkpoint.bin" || { echo "--calib-samples 24 changed nothing"; exit 1; }
[ "$(q group --scheme int3:asym --group-size 16 --keep-float lm_head --method gptq --act-order --damp 0.02 --calibration-batches 2)" = "$string" ] ||
  { echo "--group-size 16 is not g16"; exit 1; }
echo "24 samples: $short"
fails() {  # the command fails with the expected message
  local want=$1; shift
  if "$qforge" quantize --checkpoint "$work/float" -o "$work/bad" "$@" > "$work/err" 2>&1; then echo "accepted: $*"; exit 1; fi
  grep -qF -- "$want" "$work/err" || { echo "expected '$want' from $*, got:"; cat "$work/err"; exit 1; }
}
fails "quantize: --damp does not apply to --method awq (it takes --no-clip)" --scheme int4 --method awq --damp 0.02
fails "--act-order does not apply to --method rtn (it takes no options)" --scheme int4 --act-order
fails "option damp given twice" --scheme int4 --method gptq:damp=0.01 --damp 0.02
fails "ptq gptq: option 'damp=x' is not one of damp=<number>, block=<number>, act_order, dynamic_groups, rtn" --scheme int4 --method gptq --damp x
fails "--group-size 128: scheme 'int4:g32' already names its granularity (g32)" --scheme int4:g32 --group-size 128
fails "give --calib-samples or --calibration-batches, not both" --scheme int4 --calib-samples 8 --calibration-batches 1
fails "only quantization.* fields" --scheme int4 --set trainer.steps=3
help=$("$qforge" quantize --help)
for flag in --act-order --damp --group-size --alpha --threshold --outlier-fraction --calib-samples --block --seed --no-clip \
            --tune --beta1 --beta2 --qq-bits; do
  grep -q -- "$flag" <<< "$help" || { echo "--help lacks $flag"; exit 1; }
done
grep -q -- "--damp.*(methods: gptq 0.01, spqr 0.01, quip_sharp 0.01)" <<< "$help" || { echo "--damp's help does not name its methods"; exit 1; }
echo "method flags match the method string bit for bit"
