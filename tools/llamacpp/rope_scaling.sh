#!/usr/bin/env bash
# Rope-scaled GGUF files checked by llama.cpp (ctest peer.llamacpp_rope_scaling, label llamacpp; docs/gguf.md §15):
# rope_llama writes one random tiny Llama as llama3-scaled (rope_freqs.weight), linear-scaled (two keys) and
# unscaled F32 files; rope_agreement.py compares llama.cpp's next-token probabilities with qforge's beyond the
# original context, and checks that the unscaled control breaks the bounds.
#   rope_scaling.sh QFORGE ROPE_LLAMA
set -euo pipefail
qforge="$(realpath "$1")"; rope_llama="$(realpath "$2")"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
"$rope_llama" "$work"
/usr/bin/python3 "$peer/rope_agreement.py" "$qforge" "$peer/run.sh" "$work"
