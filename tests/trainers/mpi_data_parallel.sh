#!/usr/bin/env bash
# Data-parallel training under OpenMPI (issue 20; trainers/data_parallel.h). Each mode compares
# `mpirun -np 2 qforge ...` with one process on the same global batch, step by step:
#   float  `train`, 20 steps: every logged step loss and the final val_loss of 2 ranks equal 1 rank within
#          the bound below; control: 2 ranks on batch 4 (a different global batch) must NOT be within it;
#          the same with activation checkpointing; every gradient bucket starts during backward (none with
#          distributed.no_overlap); batch 7 refused
#   classifier  the same for the Fashion-MNIST MLP (image batches)
#   qat    the same with LSQ weight scales, EMA and percentile activation observers (reduced over ranks)
#   gguf_qat  the same for a Q4_K_M GGUF-QAT run (same bounds as qat)
#   qlora  `qlora` on a tiny base run (NF4 base, adapters train, lora.dropout 0.1: masks at global row indices)
#   zero1  `train` with distributed.shard_optimizer_state (ZeRO-1); its checkpoint continues on 1 rank alike
#   four_ranks  `train` on 4 ranks with ZeRO-1 equals 1 rank
#   resume 1 rank 6 steps -> 2 ranks to step 12 -> 1 rank to step 18 equals 18 straight 1-rank steps
#   kill   rank 1 SIGKILLs itself at step 5: mpirun ends non-zero, naming the killed rank, within 60 s
#   hang   rank 1 stops answering at step 5: rank 0 stops the job after distributed.timeout_seconds (4 s)
# Bound: |loss_2ranks - loss_1rank| <= 1e-6 * |loss_1rank| at every step: 2 ranks sum two half-batch
# gradients where 1 rank sums one batch, a float32 reduction-order difference (measured <= 6e-8). QAT keeps
# 1e-6 for steps 1-4; later a weight 1 ulp apart can cross an int4 rounding boundary and flip a code,
# a discrete change that training then carries, so its 20 steps are held to 1e-3 (measured 1.8e-4).
# Control for QAT: 2 ranks whose observers see only their own shard (QFORGE_DIST_TEST_LOCAL_OBSERVERS)
# drift apart, and the parameter hash check stops them before a checkpoint is written.
#   mpi_data_parallel.sh QFORGE MODE   -> "mpi MODE ok" when every check passed; exit 77 without mpirun
set -euo pipefail
qforge=$1 mode=$2
command -v mpirun > /dev/null || { echo "mpirun not found: skipped"; exit 77; }
work=$(mktemp -d)
[ -n "${QFORGE_KEEP_WORK:-}" ] && echo "work: $work" || trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
mpi=(mpirun --oversubscribe --allow-run-as-root -np 2)
fail() { echo "FAILED: $*"; exit 1; }
losses() { /usr/bin/python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"] == "train": print(e["step"], repr(e["loss"]))' "$1/metrics.jsonl"; }
# compare A B BOUND [LAST]: every step (up to LAST) of A and B within BOUND (relative); prints the largest
# relative difference.
compare() { /usr/bin/python3 - "$1" "$2" "$3" "${4:-1000000}" <<'PY'
import json, sys
def steps(d, last):
    return {e["step"]: e["loss"] for e in map(json.loads, open(d + "/metrics.jsonl"))
            if e["event"] == "train" and e["step"] <= last}
last = int(sys.argv[4])
a, b, bound = steps(sys.argv[1], last), steps(sys.argv[2], last), float(sys.argv[3])
assert sorted(a) == sorted(b) and a, (sorted(a), sorted(b))
worst = max(abs(a[s] - b[s]) / abs(a[s]) for s in a)
print("steps %d..%d max relative loss difference %.3g (bound %g)" % (min(a), max(a), worst, bound))
sys.exit(0 if worst <= bound else 1)
PY
}
bound=1e-6
cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 2 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 8 }
optimizer { name: "adamw" lr: 0.003 weight_decay: 0.1 clip_grad_norm: 1.0 }
trainer { steps: 20 eval_batches: 2 log_every: 1 checkpoint_every: 10 seed: 3 }
CONFIG
qat='quantization { rules { pattern: "lm_head" skip: true } rules { pattern: "model.embed_tokens" skip: true }
  rules { pattern: "*.mlp.*" weight { scheme: "int4:g16:lsq" } input { scheme: "int8:tensor:percentile" } }
  rules { pattern: "*" weight { scheme: "int4:channel:lsq" } input { scheme: "int8:tensor:asym:ema" } } }'

final_loss() { sed -n 's/.*val_loss=\([0-9.]*\).*/\1/p' "$1"; }
same_final() {  # the final val_loss of two outputs within the bound
  /usr/bin/python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print("val_loss", a, b)
sys.exit(0 if abs(a - b) <= float(sys.argv[3]) * a else 1)' "$(final_loss "$1")" "$(final_loss "$2")" "$bound" \
  || fail "final val_loss differs beyond $bound"
}

run_pair() {  # run_pair NAME COMMAND...: one rank and two ranks, compared
  local name=$1; shift
  "$qforge" "$@" --run-dir "$work/$name.1" > "$work/$name.1.out" 2>&1 || { cat "$work/$name.1.out"; fail "$name: 1 rank failed"; }
  "${mpi[@]}" "$qforge" "$@" --run-dir "$work/$name.2" > "$work/$name.2.out" 2>&1 || { cat "$work/$name.2.out"; fail "$name: 2 ranks failed"; }
  grep -q "data parallel: 2 ranks" "$work/$name.2.out" || { cat "$work/$name.2.out"; fail "$name: not data parallel"; }
  [ "$(grep -c "final:" "$work/$name.2.out")" = 1 ] || fail "$name: the final line is not printed once"
  compare "$work/$name.1" "$work/$name.2" "$bound" || fail "$name: 2 ranks differ from 1 rank beyond $bound"
  same_final "$work/$name.1.out" "$work/$name.2.out"
}

case $mode in
  float)
    run_pair float train --config "$work/run.pbtxt"
    # Control: a different global batch (4) must fail the comparison, so the comparison can fail.
    "${mpi[@]}" "$qforge" train --config "$work/run.pbtxt" --set data.batch_size=4 --run-dir "$work/control" > /dev/null 2>&1
    if compare "$work/float.1" "$work/control" "$bound"; then fail "the control (batch 4) passed the comparison"; fi
    # Activation checkpointing: parameters inside a recomputed layer get their gradients inside another
    # node's backward and are not announced; finish() all-reduces them after backward, with the same result.
    "${mpi[@]}" "$qforge" train --config "$work/run.pbtxt" --set model.llama.gradient_checkpointing=true \
      --run-dir "$work/recompute" > /dev/null 2>&1 || fail "checkpointing run"
    compare "$work/float.1" "$work/recompute" "$bound" || fail "2 ranks with activation checkpointing differ beyond $bound"
    # Overlap: with buckets of 0.01 MiB every bucket starts during backward (each parameter's last use is
    # announced by autograd); with distributed.no_overlap none does.
    for overlap in true false; do
      "${mpi[@]}" "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=3 --set distributed.bucket_mb=0.01 \
        --set distributed.no_overlap=$([ $overlap = true ] && echo false || echo true) --run-dir "$work/overlap.$overlap" > /dev/null 2>&1 \
        || fail "overlap run $overlap"
      /usr/bin/python3 - "$work/overlap.$overlap/metrics.jsonl" $overlap <<'PY' || fail "overlap $overlap: buckets not started as expected"
import json, sys
s = [e for e in map(json.loads, open(sys.argv[1])) if e["event"] == "summary"][-1]
started, buckets = s["buckets_started_during_backward_per_step"], s["gradient_buckets"]
print("overlap=%s: %d buckets, %g started during backward per step" % (sys.argv[2], buckets, started))
sys.exit(0 if buckets >= 4 and started == (buckets if sys.argv[2] == "true" else 0) else 1)
PY
    done
    # A batch that does not split evenly is refused.
    if "${mpi[@]}" "$qforge" train --config "$work/run.pbtxt" --set data.batch_size=7 --run-dir "$work/odd" > "$work/odd.out" 2>&1; then
      fail "batch 7 on 2 ranks was accepted"; fi
    grep -q "data.batch_size 7 is not a multiple of the 2 ranks" "$work/odd.out" || { cat "$work/odd.out"; fail "batch 7: unclear error"; } ;;
  classifier)  # Fashion-MNIST MLP (examples/fashion_mnist_mlp.pbtxt, batch 128): the image task's shard rule
    run_pair classifier train --config "$(dirname "$0")/../../examples/fashion_mnist_mlp.pbtxt" --set trainer.steps=20 \
      --set trainer.log_every=1 --set trainer.eval_batches=1 --set trainer.eval_every=0 ;;
  qat)
    echo "$qat" >> "$work/run.pbtxt"
    bound=1e-3 run_pair qat train --config "$work/run.pbtxt"
    compare "$work/qat.1" "$work/qat.2" 1e-6 4 || fail "qat: steps 1-4 differ beyond 1e-6"
    # Control: observers that see their own shard give the ranks different activation scales, which the
    # parameter hash check after the (final) checkpoint reports, stopping the job.
    if QFORGE_DIST_TEST_LOCAL_OBSERVERS=1 "${mpi[@]}" "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=1 \
         --run-dir "$work/local" > "$work/local.out" 2>&1; then fail "qat: shard-local observers were not detected"; fi
    grep -q "at step 1 the parameters of rank(s) 1 differ from rank 0's (hash [0-9a-f]*): the ranks drifted apart" "$work/local.out" \
      || { cat "$work/local.out"; fail "qat: no drift message for shard-local observers"; }
    [ ! -e "$work/local/checkpoint.bin" ] || fail "qat: drifted ranks wrote a checkpoint" ;;
  gguf_qat)  # format-exact GGUF QAT (quantization.preset, trainers/gguf_qat.h): weights only, no observers
    echo 'quantization { preset: "Q4_K_M" }' >> "$work/run.pbtxt"
    bound=1e-3 run_pair gguf_qat train --config "$work/run.pbtxt"
    compare "$work/gguf_qat.1" "$work/gguf_qat.2" 1e-6 4 || fail "gguf_qat: steps 1-4 differ beyond 1e-6" ;;
  qlora)
    "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=5 --run-dir "$work/base" > /dev/null 2>&1 || fail "base run"
    cat > "$work/lora.pbtxt" <<CONFIG
data { text { corpus_begin: 0.05 corpus_end: 0.1 } batch_size: 8 }
optimizer { name: "adamw" lr: 0.003 clip_grad_norm: 1.0 }
trainer { steps: 20 eval_batches: 2 log_every: 1 checkpoint_every: 10 seed: 3 }
lora { rank: 4 alpha: 8 dropout: 0.1 }
CONFIG
    run_pair qlora qlora --base "$work/base" --config "$work/lora.pbtxt" ;;
  zero1)
    run_pair zero1 train --config "$work/run.pbtxt" --set distributed.shard_optimizer_state=true
    grep -q "ZeRO-1: rank 0 keeps the AdamW state of [0-9]* of [0-9]* parameters: .* (saves [0-9.]* MiB per rank)" "$work/zero1.2.out" \
      || { cat "$work/zero1.2.out"; fail "zero1: no memory figure"; }
    # The checkpoint of the sharded run holds every moment: both runs continue alike on 1 rank.
    for n in 1 2; do "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=26 --run-dir "$work/zero1.$n" > /dev/null 2>&1 \
      || fail "zero1: continuing run $n"; done
    compare "$work/zero1.1" "$work/zero1.2" "$bound" || fail "zero1: the sharded run's checkpoint continues differently" ;;
  four_ranks)  # -np 4 (oversubscribed): 2 rows per rank, ZeRO-1 over 4 shares, against 1 rank
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/four.1" > /dev/null 2>&1 || fail "four_ranks: 1 rank"
    mpirun --oversubscribe --allow-run-as-root -np 4 "$qforge" train --config "$work/run.pbtxt" \
      --set distributed.shard_optimizer_state=true --run-dir "$work/four.4" > "$work/four.out" 2>&1 || { cat "$work/four.out"; fail "four_ranks: 4 ranks"; }
    grep -q "data parallel: 4 ranks" "$work/four.out" || fail "four_ranks: not 4 ranks"
    compare "$work/four.1" "$work/four.4" "$bound" || fail "four_ranks: 4 ranks differ from 1 rank beyond $bound" ;;
  resume)
    "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=18 --run-dir "$work/straight" > /dev/null 2>&1 || fail "straight run"
    "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=6 --run-dir "$work/hop" > /dev/null 2>&1 || fail "1 rank, steps 1-6"
    "${mpi[@]}" "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=12 --run-dir "$work/hop" > "$work/hop2.out" 2>&1 \
      || { cat "$work/hop2.out"; fail "2 ranks, steps 7-12"; }
    "$qforge" train --config "$work/run.pbtxt" --set trainer.steps=18 --run-dir "$work/hop" > "$work/hop3.out" 2>&1 \
      || { cat "$work/hop3.out"; fail "1 rank, steps 13-18"; }
    [ "$(losses "$work/hop" | head -n 1 | cut -d' ' -f1)" = 1 ] || fail "metrics.jsonl lost the first steps"
    compare "$work/straight" "$work/hop" "$bound" || fail "1 -> 2 -> 1 ranks differ from 18 straight steps beyond $bound" ;;
  kill|hang)
    start=$(date +%s)
    if QFORGE_DIST_FAULT="1:5:$mode" timeout 120 "${mpi[@]}" "$qforge" train --config "$work/run.pbtxt" \
         --set distributed.timeout_seconds=4 --run-dir "$work/fault" > "$work/fault.out" 2>&1; then
      fail "$mode: the job ended with status 0"; fi
    took=$(( $(date +%s) - start ))
    [ "$took" -lt 60 ] || fail "$mode: the other rank took $took s to stop"
    if [ "$mode" = kill ]; then
      grep -Eq "rank 1 .*(signal 9|Killed)" "$work/fault.out" || { cat "$work/fault.out"; fail "kill: no message naming rank 1"; }
    else
      grep -q "rank 0 of 2: the gradient all-reduce of step 5 did not complete within 4 s" "$work/fault.out" \
        || { cat "$work/fault.out"; fail "hang: rank 0 gave no clear error"; }
    fi
    echo "$mode: job stopped after $took s"; grep -E "qforge: rank|signal" "$work/fault.out" | head -n 3 ;;
  *) fail "unknown mode $mode" ;;
esac
echo "mpi $mode ok"
