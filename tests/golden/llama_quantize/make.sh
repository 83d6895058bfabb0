#!/usr/bin/env bash
# Provenance of the llama-quantize outputs in this folder (read by tests/exporters/test_llama_quantize_golden.cpp).
# Two tiny random llamas are written by qforge (bench/make_random_llama_gguf, fixed seeds), then
# quantized by llama.cpp's own llama-quantize, built by `make bench` (bench/gguf_quantize.py) from the
# llama.cpp source node-llama-cpp 3.22.1 ships (build/llamacpp-tools; default CMake Release flags:
# -O3, GGML_NATIVE=ON, i.e. -march=native, and GCC's default -ffp-contract=fast).
#   k256: 1 layer, hidden 256, ffn 32, 4 heads, 1 kv head, 8 chars + 259 appended tokens, seed 7, tied
#         -> Q4_K_M uses Q4_K and Q6_K (rows of 256) and the Q5_0 / Q8_0 fallbacks (ffn_down rows of 32)
#   d64:  1 layer, hidden 64, ffn 96, 2 heads, 1 kv head, 8 chars + 259 appended tokens, seed 5, untied
#         -> Q8_0 and IQ4_NL (llama.cpp puts output.weight in Q8_0 for IQ4_NL: rows of 64 < 256)
# The test rebuilds the same F32 inputs in memory from these parameters.
# usage: tests/golden/llama_quantize/make.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
quantize="$build/llamacpp-tools/build/bin/llama-quantize"
make_model="$build/bench/make_random_llama_gguf"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$make_model" "$tmp/k256.gguf" 1 256 32 4 1 8 7 1
"$make_model" "$tmp/d64.gguf" 1 64 96 2 1 8 5 0
"$quantize" "$tmp/k256.gguf" "$here/k256_Q4_K_M.gguf" Q4_K_M 1 >/dev/null 2>&1
"$quantize" "$tmp/d64.gguf" "$here/d64_Q8_0.gguf" Q8_0 1 >/dev/null 2>&1
"$quantize" "$tmp/d64.gguf" "$here/d64_IQ4_NL.gguf" IQ4_NL 1 >/dev/null 2>&1
(cd "$tmp" && sha256sum k256.gguf d64.gguf) > "$here/f32_inputs.sha256"
git -C "$build/llamacpp-tools/src" log -1 --format='llama.cpp source: %H %s' > "$here/llama_cpp_version.txt"
ls -l "$here"
