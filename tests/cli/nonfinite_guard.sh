#!/usr/bin/env bash
# Numerical faults and senseless numbers (issue 19): a NaN gradient (injected at step 3 by
# QFORGE_INJECT_NONFINITE_STEP) stops training naming the step, the loss and the parameter, and the
# step-2 checkpoint stays the run's; trainer.skip_nonfinite skips that step instead and counts it in
# metrics.jsonl; a diverging learning rate (1e6) stops the run before it saves NaN weights; negative or
# NaN learning rates, batch sizes and betas are refused when the config is read.
#   nonfinite_guard.sh QFORGE EXAMPLE(char_llama_gguf.pbtxt)  -> "nonfinite guard ok" only when every check passed
set -euo pipefail
qforge=$1 example=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fail() { echo "FAILED: $*"; exit 1; }
cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
optimizer { lr: 0.001 }
trainer { steps: 6 eval_batches: 1 log_every: 1 checkpoint_every: 1 seed: 1 }
CONFIG
# 1. Stop at the injected step; the checkpoint of step 2 is the run's.
if QFORGE_INJECT_NONFINITE_STEP=3 "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/stop" > "$work/out" 2>&1; then
  fail "a NaN gradient did not stop training"; fi
grep -q "training stopped at step 3: loss [0-9.]*, the gradient of 'model.embed_tokens.weight' is not finite" "$work/out" \
  || { cat "$work/out"; fail "the message does not name step, loss and parameter"; }
step=$("$qforge" eval --checkpoint "$work/stop" | sed -n 's/.*final: step=\([0-9]*\).*/\1/p')
[ "$step" = 2 ] || fail "the run's checkpoint is at step '$step', not 2"
# 2. Skip it: the run ends at step 6 with one skipped step in metrics.jsonl, loss finite.
QFORGE_INJECT_NONFINITE_STEP=3 "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/skip" \
  --set trainer.skip_nonfinite=true > "$work/out" 2>&1 || { cat "$work/out"; fail "skip_nonfinite did not finish"; }
grep -q '"skipped_steps":1' "$work/skip/metrics.jsonl" || fail "metrics.jsonl does not count the skipped step"
grep -q "final: step=6 .*val_loss=[0-9]" "$work/out" || { cat "$work/out"; fail "the skipping run did not end at step 6 with a finite loss"; }
# 3. The issue's case, the char Llama at lr 1e6: stopped before any NaN weights are saved as the run's.
if "$qforge" train --config "$example" --run-dir "$work/diverge" --set optimizer.lr=1e6 --set trainer.checkpoint_every=0 \
     --set trainer.steps=6 --set schedule.warmup_steps=0 --set trainer.eval_batches=1 > "$work/out" 2>&1; then
  fail "lr 1e6 trained to the end"; fi
grep -q "training stopped at step [0-9]*: loss" "$work/out" || { cat "$work/out"; fail "lr 1e6: no clear stop"; }
[ ! -e "$work/diverge/checkpoint.bin" ] || fail "lr 1e6 saved a checkpoint"
# 4. Numbers that make no sense are refused when the config is read.
for bad in "optimizer.lr=-1|optimizer.lr: -1 is not a learning rate" "data.batch_size=-4|data.batch_size: -4 is negative" \
           "optimizer.beta2=1|optimizer.beta2: 1 is not in \[0, 1)" "trainer.steps=-3|trainer.steps: -3 is negative" \
           "optimizer.clip_grad_norm=-1|optimizer.clip_grad_norm: -1 is not"; do
  set_arg=${bad%%|*} message=${bad#*|}
  if "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/bad" --set "$set_arg" > "$work/out" 2>&1; then fail "$set_arg accepted"; fi
  grep -q "$message" "$work/out" || { cat "$work/out"; fail "$set_arg: unclear error"; }
done
echo "nonfinite guard ok: stop at step 3 keeping step 2, skip counted, lr 1e6 stopped unsaved, 5 bad numbers refused"
