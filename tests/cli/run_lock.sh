#!/usr/bin/env bash
# Two `qforge train` on one run folder (issue 19): the second refuses naming the folder while the first
# runs; after the first is killed with SIGKILL the folder is free again (flock dies with its process).
#   run_lock.sh QFORGE  -> "run lock ok" only when every check passed
set -euo pipefail
qforge=$1
work=$(mktemp -d)
first=
trap '[ -n "$first" ] && kill -9 "$first" 2>/dev/null; rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
fail() { echo "FAILED: $*"; exit 1; }
cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 1000000 eval_batches: 1 log_every: 1 checkpoint_every: 0 seed: 1 }
CONFIG
"$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" > "$work/first.out" 2>&1 &
first=$!
for _ in $(seq 100); do [ -s "$work/run/metrics.jsonl" ] && break; sleep 0.1; done
[ -s "$work/run/metrics.jsonl" ] || fail "the first run did not start"
if "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set trainer.steps=2 > "$work/second.out" 2>&1; then
  fail "the second train on the same folder ran"; fi
grep -q "$work/run is in use by another qforge process" "$work/second.out" || { cat "$work/second.out"; fail "unclear refusal"; }
kill -9 "$first"; wait "$first" 2>/dev/null || true; first=
"$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set trainer.steps=2 --fresh > "$work/third.out" 2>&1 \
  || { cat "$work/third.out"; fail "the folder stayed locked after SIGKILL"; }
echo "run lock ok: the second train refused, the folder free again after kill -9"
