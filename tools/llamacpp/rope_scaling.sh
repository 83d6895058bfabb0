#!/usr/bin/env bash
# Rope-scaled GGUF files checked by llama.cpp (label llamacpp; docs/gguf.md §15). rope_llama writes one random
# tiny Llama as llama3-scaled (rope_freqs.weight), linear-scaled (two keys) and unscaled F32 files.
#   rope_scaling.sh QFORGE ROPE_LLAMA agreement
#       rope_agreement.py: llama.cpp's next-token probabilities = qforge's beyond the original context, and
#       the unscaled control breaks the bounds. Prints "rope scaling: 7 passed, 0 failed".
#   rope_scaling.sh QFORGE ROPE_LLAMA quantize LLAMA_QUANTIZE
#       llama-quantize and `qforge quantize-gguf` write the same bytes for both scaled files in Q8_0, Q4_K_M and
#       Q2_K (rope_freqs.weight and the linear keys copied, the tensor F32), and qforge reads llama-quantize's
#       Q8_0 llama3 file back to llama.cpp's probabilities (agreement.py's Q8_0 bound). Exit 77 without the binary.
set -euo pipefail
qforge="$(realpath "$1")"; rope_llama="$(realpath "$2")"; mode="$3"; llama_quantize="${4:-}"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$mode" = quantize ] && [ ! -x "$llama_quantize" ]; then
  echo "llama-quantize not built ($llama_quantize; make bench builds it): skipped"; exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
"$rope_llama" "$work"
case "$mode" in
  agreement)
    /usr/bin/python3 "$peer/rope_agreement.py" "$qforge" "$peer/run.sh" "$work" ;;
  quantize)
    passed=0; failed=0
    for type in Q8_0 Q4_K_M Q2_K; do
      for name in llama3 linear; do
        "$llama_quantize" "$work/$name.gguf" "$work/l.$name.$type.gguf" "$type" 1 > "$work/llama.log" 2>&1
        "$qforge" quantize-gguf "$work/$name.gguf" "$work/q.$name.$type.gguf" "$type" --threads 1 > /dev/null
        if cmp -s "$work/l.$name.$type.gguf" "$work/q.$name.$type.gguf"; then
          echo "ok     $name $type: llama-quantize and quantize-gguf identical"; passed=$((passed + 1))
        else
          echo "FAILED $name $type: llama-quantize and quantize-gguf differ"; failed=$((failed + 1))
        fi
      done
    done
    if "$qforge" inspect "$work/l.llama3.Q2_K.gguf" | grep -Eq '^ *rope_freqs\.weight +F32 +\[8\]'; then
      echo "ok     llama-quantize keeps rope_freqs.weight F32 [8] in Q2_K"; passed=$((passed + 1))
    else
      echo "FAILED llama-quantize's Q2_K rope_freqs.weight: $("$qforge" inspect "$work/l.llama3.Q2_K.gguf" | grep rope_freqs)"
      failed=$((failed + 1))
    fi
    PYTHONPATH="$peer" /usr/bin/python3 - "$qforge" "$peer/run.sh" "$work/l.llama3.Q8_0.gguf" <<'PY' && passed=$((passed + 1)) || failed=$((failed + 1))
import random, sys
from agreement import Checker, compare_sequences
qforge, run_sh, gguf = sys.argv[1:]
checker = Checker(qforge, run_sh, ".")
rng = random.Random(7)
sequences = [[rng.randrange(96) for _ in range(128)]]
max_abs, kls = compare_sequences(checker.qforge_probs("--gguf", gguf, sequences), checker.llama_probs(gguf, sequences))
checker.record_bounds("llama-quantize's llama3 Q8_0", "Q8_0", max_abs, kls)
sys.exit(checker.failed)
PY
    echo "rope scaling: $passed passed, $failed failed"
    [ "$failed" = 0 ] ;;
  *) echo "rope_scaling.sh: unknown mode '$mode'"; exit 2 ;;
esac
