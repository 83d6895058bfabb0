#!/usr/bin/env bash
# llama.cpp checks qforge's LoRA adapters (ctest label llamacpp): trains char_llama_gguf briefly,
# exports F32 and Q4_K_M, writes a random adapter (nonzero B) as GGUF and PEFT with the random_lora
# test tool, fine-tunes adapters with `qforge qlora` (float and NF4 base) and exports them (merged and
# as a GGUF adapter), and runs lora_agreement.py (llama.cpp vs qforge on each).
#   tools/llamacpp/lora_agreement.sh path/to/qforge path/to/qforge_random_lora
set -euo pipefail
qforge="$(realpath "$1")"
random_lora="$(realpath "$2")"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$peer/../.." && pwd)"
python="${QFORGE_TORCH_PYTHON:-/usr/bin/python3}"
fortunes="${QFORGE_FORTUNES_FILE:-/usr/share/games/fortunes/fortunes}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

steps="${QFORGE_LORA_AGREEMENT_STEPS:-5}"
"$qforge" train --config "$root/examples/char_llama_gguf.pbtxt" --run-dir "$work/gguf" --fresh \
  --set trainer.steps="$steps" --set schedule.warmup_steps=$(( steps / 5 )) --set trainer.eval_every=0 \
  --set trainer.checkpoint_every=0 --set trainer.eval_batches=1 --set trainer.log_every=1000 | tail -n 1 | sed "s/^/gguf: /"
for type in F32 Q4_K_M; do
  "$qforge" export --checkpoint "$work/gguf" --format gguf --type "$type" -o "$work/gguf.$type.gguf" >/dev/null
done
# r 8, alpha 16 (scale 2), seed 1.
"$random_lora" "$work/gguf.F32.gguf" 8 16 1 "$work/adapter.gguf" "$work/peft"
# Trained adapters: `qforge qlora` on the run above (second half of fortunes, a few steps at a high
# learning rate so B moves), with a float base and with an NF4 base; merged and adapter exports.
for format in f32 nf4; do
  "$qforge" qlora --base "$work/gguf" --base-format "$format" --config "$root/examples/char_llama_qlora.pbtxt" \
    --run-dir "$work/lora_$format" --fresh --set trainer.steps=10 --set schedule.warmup_steps=2 \
    --set trainer.eval_every=0 --set trainer.checkpoint_every=0 --set trainer.eval_batches=1 \
    --set optimizer.lr=0.02 --set trainer.log_every=1000 | tail -n 1 | sed "s/^/qlora $format: /"
  "$qforge" export --checkpoint "$work/lora_$format" --type F32 -o "$work/lora_$format.merged.F32.gguf" 2>/dev/null >/dev/null
done
"$qforge" export --checkpoint "$work/lora_f32" --type Q4_K_M -o "$work/lora_f32.merged.Q4_K_M.gguf" 2>/dev/null >/dev/null
"$qforge" export --checkpoint "$work/lora_f32" --format gguf-lora -o "$work/lora_f32.adapter.gguf" >/dev/null
head -c 1600 "$fortunes" > "$work/text.txt"
"$python" "$peer/lora_agreement.py" "$qforge" "$peer/run.sh" "$work" "$work/text.txt"
