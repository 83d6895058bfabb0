#!/usr/bin/env bash
# `make demo`: Q4_K_M-exact QAT of a character-level Llama on the fortunes (a few minutes on 2 cores),
# export to a Q4_K_M GGUF, then llama.cpp (node-llama-cpp's prebuilt CPU binary) generates from the
# file, and the demo measures how closely llama.cpp's next-token probabilities agree with qforge's.
#   scripts/demo.sh BUILD_DIR
set -euo pipefail
build="${1:-build}"
qforge="$build/cli/qforge"
run=runs/char_llama_gguf_q4_k_m_demo
file="$run.Q4_K_M.gguf"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

echo "== 1. Q4_K_M-exact quantization-aware training (examples/char_llama_gguf_q4_k_m_demo.pbtxt)"
"$qforge" train --config examples/char_llama_gguf_q4_k_m_demo.pbtxt --fresh

echo "== 2. export: each tensor in the type it trained with, from its latent weights"
"$qforge" export --checkpoint "$run" -o "$file"
echo "validation loss, trained model (fake-quantized forward): $("$qforge" eval --checkpoint "$run" | sed -n 's/.*val_loss=//p')"
echo "validation loss, the exported file's weights:            $("$qforge" eval --checkpoint "$run" --gguf "$file" | sed -n 's/.*val_loss=//p')"

echo "== 3. llama.cpp generates from $file (greedy, prompt \"The \"; the context is 128 tokens)"
llama_json="$(tools/llamacpp/run.sh generate.mjs "$file" "The " 120)"
/usr/bin/python3 -c 'import json, sys; print("The " + json.loads(sys.argv[1])["text"])' "$llama_json"
echo "-- qforge, greedy from the same file:"
"$qforge" generate --gguf "$file" --prompt "The " --tokens 120 --temperature 0
echo

echo "== 4. llama.cpp vs qforge on the file and on the trained checkpoint"
head -c 1600 "${QFORGE_FORTUNES_FILE:-/usr/share/games/fortunes/fortunes}" > "$run/agreement_text.txt"
/usr/bin/python3 tools/llamacpp/agreement.py --single "$qforge" tools/llamacpp/run.sh "$run" "$file" Q4_K_M \
  "$run/agreement_text.txt"
