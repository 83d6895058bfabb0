#!/usr/bin/env bash
# llama.cpp's agreement on every GGUF cell of a `qforge study` (trainers/study/gguf_cells.h): for each
# gguf: row of results.csv, node-llama-cpp's next-token probabilities on the cell's model.gguf against
# `qforge probs --gguf` on the same file (mean KL over 3 x 64 positions of a fortunes text), and for QAT
# cells the trained checkpoint's forward against the file. Writes STUDY_DIR/llamacpp_agreement.{csv,md}.
#   tools/llamacpp/study_agreement.sh path/to/qforge STUDY_DIR   -> "agreement: N passed, M failed"
set -euo pipefail
qforge="$(realpath "$1")"
study="$(realpath "$2")"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${QFORGE_TORCH_PYTHON:-/usr/bin/python3}"
fortunes="${QFORGE_FORTUNES_FILE:-/usr/share/games/fortunes/fortunes}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
head -c 1600 "$fortunes" > "$work/text.txt"  # the text agreement.sh uses
"$python" "$peer/agreement.py" --study "$qforge" "$peer/run.sh" "$study" "$work/text.txt"
