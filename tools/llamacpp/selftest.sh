#!/usr/bin/env bash
# Proves the llama.cpp peer works offline: clones the llama.cpp source node-llama-cpp ships
# (llama/gitRelease.bundle) into a temp dir, then
#   1. tokenize: llama.cpp's own vectors for models/ggml-vocab-llama-spm.gguf (vocab only)
#   2. probs: a tiny random F32 llama GGUF written with that clone's gguf-py, against a
#      float64 numpy forward (max |p - p_ref| must stay below 1e-5)
# Prints "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${QFORGE_TORCH_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone -q "$peer/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$work/llama.cpp" 2>/dev/null
passed=0; failed=0

if "$peer/run.sh" check_vocab.mjs "$work/llama.cpp/models/ggml-vocab-llama-spm.gguf" 2>/dev/null; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: tokenize vectors"; fi

export PYTHONPATH="$work/llama.cpp/gguf-py"
"$python" "$peer/tiny_llama.py" write "$work/tiny.gguf"
"$peer/run.sh" probs.mjs probs "$work/tiny.gguf" 1,260,265,4,100,261,3,268,262,259 > "$work/probs.json"
report="$("$python" "$peer/tiny_llama.py" check "$work/tiny.gguf" "$work/probs.json")"
echo "tiny llama: $report"
if "$python" -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["max_abs_prob_diff"] < 1e-5 else 1)' "$report"; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: tiny llama probs"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
