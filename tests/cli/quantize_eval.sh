#!/usr/bin/env bash
# `qforge quantize` writes a run folder that `eval` and `generate` read back: the evaluation of the
# saved PTQ checkpoint must equal the one `quantize` printed, bit for bit in the printed digits, and a
# QAT run's checkpoint (LSQ, SEQ on int2 and ternary) must evaluate to its own final line.
set -euo pipefail
qforge=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 60); do echo "fortune $i: a bird in the hand is worth two in the bush."; done > "$work/corpus.txt"
cat > "$work/float.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 16 } }
data { text { corpus: "$work/corpus.txt" } batch_size: 4 }
optimizer { name: "adamw" lr: 0.01 }
trainer { steps: 40 log_every: 10 eval_batches: 2 seed: 3 }
CONFIG
"$qforge" train --config "$work/float.pbtxt" --run-dir "$work/float" | tail -n 1
"$qforge" quantize --checkpoint "$work/float" --scheme int4:g16:mse --input-scheme int8:token --keep-float lm_head \
  -o "$work/ptq" > "$work/ptq.out"
cat "$work/ptq.out"
"$qforge" eval --checkpoint "$work/ptq" > "$work/ptq_eval.out"
cat "$work/ptq_eval.out"
[ "$(head -n 1 "$work/ptq.out")" = "$(tail -n 1 "$work/ptq_eval.out")" ] || { echo "PTQ eval differs from quantize"; exit 1; }
"$qforge" generate --checkpoint "$work/ptq" --prompt "fortune" --tokens 20 --seed 1 | grep -q "^fortune" ||
  { echo "generate from the PTQ checkpoint failed"; exit 1; }
# LSQ, and ParetoQ's SEQ (learned clipping levels, its own grid: eval must rebuild it from the checkpoint).
for scheme in int3:g16:lsq int2:g16:seq ternary:channel:seq; do
  cat "$work/float.pbtxt" - > "$work/qat.pbtxt" <<CONFIG
quantization { rules { pattern: "lm_head" skip: true }
               rules { pattern: "*" weight { scheme: "$scheme" } input { scheme: "int8:tensor:asym:ema" } }
               init_from: "$work/float" }
CONFIG
  rm -rf "$work/qat"
  "$qforge" train --config "$work/qat.pbtxt" --run-dir "$work/qat" > "$work/qat.out"
  "$qforge" eval --checkpoint "$work/qat" > "$work/qat_eval.out"
  echo "$scheme: $(tail -n 1 "$work/qat.out")"
  [ "$(tail -n 1 "$work/qat.out")" = "$(tail -n 1 "$work/qat_eval.out")" ] ||
    { echo "QAT ($scheme) eval differs from training's final line"; exit 1; }
done
echo "quantized checkpoints evaluate identically"
