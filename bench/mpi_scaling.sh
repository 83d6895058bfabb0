#!/usr/bin/env bash
# Data-parallel throughput on this machine (issue 20; README.md "Training on several machines"):
# `qforge train` of the char-Llama (examples/char_llama_fortunes.pbtxt, global batch 16 x 128 tokens) at
# 1 rank (no mpirun) and 2 ranks (mpirun, one OpenMP thread each), with the gradient all-reduce
# overlapped with backward and after it; then the all-reduce cost of the char-Llama gradient and of the
# 150M QLoRA shape's adapters (rank 8, all projections) at 2 ranks (bench/allreduce_probe.cpp).
#   bench/mpi_scaling.sh BUILD_DIR [STEPS]  -> one line per run: samples/s, all-reduce ms per step
set -euo pipefail
build=$1 steps=${2:-60}
qforge=$build/cli/qforge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1
mpi=(mpirun --oversubscribe --allow-run-as-root)
config=$(dirname "$0")/../examples/char_llama_fortunes.pbtxt
args=(--config "$config" --set trainer.steps=$steps --set trainer.eval_every=0 --set trainer.eval_batches=1
      --set trainer.checkpoint_every=0 --set trainer.log_every=$steps --set schedule.warmup_steps=10)
report() {  # report NAME RUN_DIR
  /usr/bin/python3 - "$1" "$2/metrics.jsonl" "$steps" <<'PY'
import json, sys
s = [e for e in map(json.loads, open(sys.argv[2])) if e["event"] == "summary"][-1]
line = "%-31s samples/s=%.2f step_ms=%.1f" % (sys.argv[1], s["tokens_per_second"] / 128,
                                               1e3 * s["train_seconds"] / int(sys.argv[3]))
if "ranks" in s:
    line += " allreduce_ms_per_step=%.2f exposed_allreduce_ms_per_step=%.2f" % (
        1e3 * s["allreduce_seconds_per_step"], 1e3 * s["exposed_allreduce_seconds_per_step"])
print(line)
PY
}
echo "machine: $(nproc --all) cores, $(uptime | sed 's/.*load/load/'), $steps steps, OMP_NUM_THREADS=1"
"$qforge" train "${args[@]}" --run-dir "$work/r1" > /dev/null
report "char_llama 1 rank" "$work/r1"
"${mpi[@]}" -np 2 "$qforge" train "${args[@]}" --run-dir "$work/r2" > "$work/r2.out"
report "char_llama 2 ranks" "$work/r2"
"${mpi[@]}" -np 2 "$qforge" train "${args[@]}" --set distributed.no_overlap=true --run-dir "$work/r2n" > /dev/null
report "char_llama 2 ranks, no overlap" "$work/r2n"
# Gradient sizes: the char-Llama's trainable parameters; the 150M shape's rank-8 adapters on q,k,v,o
# and gate, up, down of 12 layers: 1794048 floats (adapter_params of bench/qlora_step --shape 150m).
char=$(sed -n 's/.*data parallel: 2 ranks, \([0-9]*\) gradient floats.*/\1/p' "$work/r2.out" | head -n 1)
"${mpi[@]}" -np 2 "$build/bench/allreduce_probe" 1024 "$char" 1794048
