#!/usr/bin/env bash
# SIGKILL a `qforge train` at an arbitrary moment, run it again, and check that the resumed run ends
# exactly where an uninterrupted run ends: same final line, same loss at every step, and that the second
# run started from the checkpoint (its first logged step is one after a checkpoint, not step 1).
set -euo pipefail
qforge=$1
extra_config=${2:-}  # appended to the run config, e.g. a quantization section (QAT resume)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for i in $(seq 1 80); do echo "a fortune $i: the quick brown fox jumps over the lazy dog."; done > "$work/corpus.txt"
cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 16 num_hidden_layers: 2 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 32 max_position_embeddings: 16 } }
data { text { corpus: "$work/corpus.txt" } batch_size: 4 }
optimizer { name: "adamw" lr: 0.01 }
schedule { kind: "cosine" warmup_steps: 10 min_lr: 0.001 }
trainer { steps: 1200 log_every: 1 checkpoint_every: 7 eval_batches: 1 seed: 9 }
$extra_config
CONFIG

"$qforge" train --config "$work/run.pbtxt" --run-dir "$work/straight" > "$work/straight.out"

"$qforge" train --config "$work/run.pbtxt" --run-dir "$work/killed" > /dev/null &
pid=$!
# Kill once the run is well under way but before it ends (it logs every step).
for _ in $(seq 1 600); do
  logged=$(grep -c '"event":"train"' "$work/killed/metrics.jsonl" 2>/dev/null || true)
  [ "${logged:-0}" -ge 200 ] && break
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null || { echo "the run ended before it could be killed"; exit 1; }
wait "$pid" 2>/dev/null || true
test -f "$work/killed/checkpoint.bin" || { echo "no checkpoint before the kill"; exit 1; }
killed_at=$(grep -c '"event":"train"' "$work/killed/metrics.jsonl" || true)
echo "killed after $killed_at of 1200 logged steps"
[ "$killed_at" -lt 1200 ] || { echo "the kill came after the last step"; exit 1; }
"$qforge" train --config "$work/run.pbtxt" --run-dir "$work/killed" > "$work/resumed.out"

tail -n 1 "$work/straight.out"
tail -n 1 "$work/resumed.out"
[ "$(tail -n 1 "$work/straight.out")" = "$(tail -n 1 "$work/resumed.out")" ] || { echo "final lines differ"; exit 1; }
/usr/bin/python3 - "$work/straight/metrics.jsonl" "$work/killed/metrics.jsonl" "$killed_at" <<'PY'
import json, sys
def losses(path):
    steps = {}
    for line in open(path):
        record = json.loads(line)
        if record["event"] == "train":
            steps[record["step"]] = record["loss"]  # a step re-run after the kill overwrites its first log
    return steps
a, b = losses(sys.argv[1]), losses(sys.argv[2])
# A resume, not a restart (which logs the same losses): the second process's first step follows a
# checkpoint (every 7 steps), not step 1.
steps = [json.loads(line)["step"] for line in open(sys.argv[2]) if json.loads(line)["event"] == "train"]
first = int(sys.argv[3])  # train lines the killed process wrote; the next is the second process's first
assert steps[first] > 1 and (steps[first] - 1) % 7 == 0, f"the second run started at step {steps[first]}, not after a checkpoint"
print(f"resumed at step {steps[first]} (killed after step {steps[first - 1]})")
assert a.keys() == b.keys(), "different steps logged"
bad = [s for s in a if a[s] != b[s]]
assert not bad, f"losses differ at steps {bad[:5]}"
print(f"{len(a)} steps, every loss bit-identical")
PY
