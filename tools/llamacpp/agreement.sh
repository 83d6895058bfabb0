#!/usr/bin/env bash
# llama.cpp checks qforge's GGUF files (ctest label llamacpp): trains two small character Llamas
# briefly (char_llama_gguf: dim 256, so Q4_K_M uses real Q4_K/Q6_K blocks; char_llama_fortunes: dim
# 128, the Q4_K_M fallbacks), exports F32, F16, BF16, Q8_0, Q4_K_M, IQ4_NL, Q4_0, Q2_K, Q3_K_M and Q5_K_M,
# and runs agreement.py:
# llama.cpp's tokenization of a fortunes text and its next-token distributions against qforge's.
#   tools/llamacpp/agreement.sh path/to/qforge   -> per-type lines, then "agreement: N passed, M failed"
set -euo pipefail
qforge="$(realpath "$1")"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$peer/../.." && pwd)"
python="${QFORGE_TORCH_PYTHON:-/usr/bin/python3}"
fortunes="${QFORGE_FORTUNES_FILE:-/usr/share/games/fortunes/fortunes}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

train() {  # name config steps
  "$qforge" train --config "$root/examples/$2.pbtxt" --run-dir "$work/$1" --fresh \
    --set trainer.steps="$3" --set schedule.warmup_steps=$(( $3 / 5 )) --set trainer.eval_every=0 \
    --set trainer.checkpoint_every=0 --set trainer.log_every=1000 | tail -n 1 | sed "s/^/$1: /"
}
train gguf char_llama_gguf "${QFORGE_AGREEMENT_STEPS:-120}"
train fortunes char_llama_fortunes "${QFORGE_AGREEMENT_FORTUNES_STEPS:-60}"
for type in F32 F16 BF16 Q8_0 Q4_K_M IQ4_NL Q4_0 Q2_K Q3_K_M Q5_K_M; do
  "$qforge" export --checkpoint "$work/gguf" --format gguf --type "$type" -o "$work/gguf.$type.gguf" >/dev/null
done
"$qforge" export --checkpoint "$work/fortunes" --format gguf --type F32 -o "$work/fortunes.F32.gguf" >/dev/null
"$qforge" export --checkpoint "$work/fortunes" --format gguf --type Q4_K_M -o "$work/fortunes.Q4_K_M.gguf" >/dev/null

# Q4_K_M-exact QAT briefly fine-tuned from the float run: llama.cpp on its export against the trained
# checkpoint's own (fake-quantized) forward, i.e. the deployed file is the trained model.
"$qforge" train --config "$root/examples/char_llama_gguf_qat.pbtxt" --run-dir "$work/qat" --fresh \
  --set quantization.init_from="$work/gguf" --set trainer.steps=30 --set schedule.warmup_steps=6 \
  --set trainer.eval_every=0 --set trainer.checkpoint_every=0 --set trainer.log_every=1000 | tail -n 1 | sed "s/^/qat: /"
"$qforge" export --checkpoint "$work/qat" --format gguf -o "$work/qat.Q4_K_M.gguf" >/dev/null
# Files of one k-quant type throughout (every Linear, the embedding and the lm_head; norms F32): format-exact
# QAT with scheme q4_k / q6_k for a few steps, exported in the trained types.
for scheme in q4_k q6_k; do
  sed "s/  preset: \"Q4_K_M\"/  rules { pattern: \"*\" weight { scheme: \"$scheme\" } }/" \
    "$root/examples/char_llama_gguf_qat.pbtxt" > "$work/$scheme.pbtxt"
  "$qforge" train --config "$work/$scheme.pbtxt" --run-dir "$work/$scheme" --fresh \
    --set quantization.init_from="$work/gguf" --set trainer.steps=5 --set schedule.warmup_steps=1 \
    --set trainer.eval_every=0 --set trainer.checkpoint_every=0 --set trainer.log_every=1000 | tail -n 1 | sed "s/^/$scheme: /"
  "$qforge" export --checkpoint "$work/$scheme" --format gguf -o "$work/$scheme.gguf" >/dev/null
done

# A fortunes text with spaces, punctuation and newlines, long enough for 3 windows of 64 tokens.
head -c 1600 "$fortunes" > "$work/text.txt"
"$python" "$peer/agreement.py" "$qforge" "$peer/run.sh" "$work" "$work/text.txt"
"$python" "$peer/agreement.py" --single "$qforge" "$peer/run.sh" "$work/qat" "$work/qat.Q4_K_M.gguf" Q4_K_M "$work/text.txt"
"$python" "$peer/agreement.py" --single "$qforge" "$peer/run.sh" "$work/q4_k" "$work/q4_k.gguf" Q4_K "$work/text.txt"
"$python" "$peer/agreement.py" --single "$qforge" "$peer/run.sh" "$work/q6_k" "$work/q6_k.gguf" Q6_K "$work/text.txt"
