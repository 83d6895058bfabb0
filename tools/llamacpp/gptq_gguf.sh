#!/usr/bin/env bash
# GPTQ into ggml types (docs/gguf.md §12) checked with llama.cpp (ctest label llamacpp): a briefly
# trained char_llama_gguf (dim 256: real Q4_K/Q6_K super-blocks), an imatrix from the first N chunks of
# its training split, and three Q4_K_M files: the codecs alone, the codecs with that imatrix (the bytes
# llama-quantize --imatrix writes), and `export --method gptq` on the same chunks. Asserts the GPTQ
# file's validation loss (qforge eval --gguf) is below the imatrix file's, and that llama.cpp's
# distributions on the GPTQ file agree with qforge's within the Q4_K_M bound (agreement.py --file).
#   tools/llamacpp/gptq_gguf.sh path/to/qforge   -> losses, agreement lines, "gptq gguf checks passed"
set -euo pipefail
qforge="$(realpath "$1")"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$peer/../.." && pwd)"
python="${QFORGE_TORCH_PYTHON:-/usr/bin/python3}"
fortunes="${QFORGE_FORTUNES_FILE:-/usr/share/games/fortunes/fortunes}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
steps="${QFORGE_GPTQ_GGUF_STEPS:-300}"
chunks="${QFORGE_GPTQ_GGUF_CHUNKS:-64}"

# QFORGE_GPTQ_GGUF_RUN=<float run folder>: use that trained run (read only) instead of training one.
run="${QFORGE_GPTQ_GGUF_RUN:-$work/run}"
if [ -z "${QFORGE_GPTQ_GGUF_RUN:-}" ]; then
  "$qforge" train --config "$root/examples/char_llama_gguf.pbtxt" --run-dir "$run" --fresh \
    --set trainer.steps="$steps" --set schedule.warmup_steps=$(( steps / 5 )) --set trainer.eval_every=0 \
    --set trainer.checkpoint_every=0 --set trainer.log_every=1000 | tail -n 1 | sed "s/^/float: /"
fi
"$qforge" imatrix --checkpoint "$run" --chunks "$chunks" -o "$work/imatrix.gguf" >/dev/null
"$qforge" export --checkpoint "$run" --type Q4_K_M -o "$work/plain.gguf" >/dev/null
"$qforge" export --checkpoint "$run" --type Q4_K_M --imatrix "$work/imatrix.gguf" -o "$work/imatrix.Q4_K_M.gguf" >/dev/null
"$qforge" export --checkpoint "$run" --type Q4_K_M --method gptq --calibration-chunks "$chunks" -o "$work/gptq.gguf"

loss() { "$qforge" eval --checkpoint "$run" "$@" | tail -n 1 | sed 's/.*val_loss=\([0-9.]*\).*/\1/'; }
float=$(loss); plain=$(loss --gguf "$work/plain.gguf"); imatrix=$(loss --gguf "$work/imatrix.Q4_K_M.gguf")
gptq=$(loss --gguf "$work/gptq.gguf")
echo "val_loss float $float  Q4_K_M plain $plain  imatrix $imatrix  gptq $gptq ($chunks chunks of $run)"
"$python" - "$float" "$plain" "$imatrix" "$gptq" <<'PY'
import sys
f, plain, imatrix, gptq = map(float, sys.argv[1:])
# A briefly trained model can even gain from the imatrix file's rounding noise (2.104574 < float 2.104680
# once, at 300 steps), so the measurable cost is asked of the plain file.
assert plain > f, "Q4_K_M costs nothing here: the check cannot separate the files"
assert gptq < imatrix, f"GPTQ Q4_K_M ({gptq}) does not beat the imatrix Q4_K_M ({imatrix})"
print(f"GPTQ recovers {100 * (imatrix - gptq) / (imatrix - f):.0f}% of the imatrix file's gap to float")
PY
head -c 1600 "$fortunes" > "$work/text.txt"
"$python" "$peer/agreement.py" --file "$qforge" "$peer/run.sh" "$run" "$work/gptq.gguf" Q4_K_M "$work/text.txt"
echo "gptq gguf checks passed"
