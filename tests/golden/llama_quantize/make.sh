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
# The *_imatrix files are quantized with an importance matrix that covers only some weights
# (imatrix_<model>.dat, written below: blk.0.attn_q, attn_v, ffn_gate, ffn_down with values 10^U(-3, 1),
# Python's random.Random(seed), ncall 1 so the importance is the stored value): the other weights
# (attn_k, attn_output, ffn_up, token_embd, output) go through llama.cpp's path without importance, so
# one file checks both paths of every type in it.
#   d64  -> Q4_0, Q4_1, Q5_1 (output.weight Q8_0: rows of 64 < 256 for Q6_K)
#   k256 -> Q2_K (+ Q3_K attn_output, Q4_K attn_v, Q4_0 ffn_down fallback, Q6_K tied output), Q3_K_M
#           (+ Q4_K attn_output, Q5_K attn_v, Q5_0 ffn_down fallback, Q6_K), Q5_K_M (+ Q6_K, Q8_0 fallback)
# The IQ/TQ files (issue 18): k256 quantized to presets that put every one of IQ4_XS, TQ1_0, TQ2_0,
# IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M in some tensor. IQ4_XS and IQ3_S take the partial
# imatrix (both paths); TQ1_0/TQ2_0 ignore an imatrix (quantize_tq*_0 does not read it); llama-quantize
# refuses IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_M (IQ2_S), IQ1_S, IQ1_M without an importance matrix for every
# layer weight (tensor_requires_imatrix in llama-quant.cpp), so those take imatrix_k256_full.dat (all
# seven layer weights, seed 257).
#   k256_IQ3_XXS_imatrix_full: iq3_xxs + iq3_s + iq2_s; k256_IQ2_M_imatrix_full: iq2_s + iq3_s;
#   k256_IQ1_S/IQ1_M_imatrix_full: + iq2_xxs (attn_output).
# grid_fnv.txt: hashes of llama.cpp's IQ grid tables (grid_fnv.c, compiled against its ggml-common.h).
# dequant_fnv.txt: hashes of llama.cpp's own dequantization of every tensor of the *_imatrix files
# (dequant_fnv.c, linked against the libggml-base.a llama-quantize uses).
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
/usr/bin/python3 - "$here" <<'PY'
import random, struct, sys
def write(path, seed, ne0):
    rng = random.Random(seed)
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(ne0)))
        for name, n in ne0:
            f.write(struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", 1, n))
            f.write(struct.pack("<%df" % n, *[10 ** rng.uniform(-3, 1) for _ in range(n)]))
        f.write(struct.pack("<ii", 1, 6) + b"random")
names = ["blk.0.attn_q.weight", "blk.0.attn_v.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_down.weight"]
write(sys.argv[1] + "/imatrix_d64.dat", 64, list(zip(names, [64, 64, 64, 96])))
write(sys.argv[1] + "/imatrix_k256.dat", 256, list(zip(names, [256, 256, 256, 32])))
full = ["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.attn_output.weight",
        "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"]
write(sys.argv[1] + "/imatrix_k256_full.dat", 257, list(zip(full, [256] * 6 + [32])))
PY
for t in Q4_0 Q4_1 Q5_1; do
  "$quantize" --imatrix "$here/imatrix_d64.dat" "$tmp/d64.gguf" "$here/d64_${t}_imatrix.gguf" $t 1 >/dev/null 2>&1
done
for t in Q2_K Q3_K_M Q5_K_M; do
  "$quantize" --imatrix "$here/imatrix_k256.dat" "$tmp/k256.gguf" "$here/k256_${t}_imatrix.gguf" $t 1 >/dev/null 2>&1
done
for t in IQ4_XS IQ3_S; do
  "$quantize" --imatrix "$here/imatrix_k256.dat" "$tmp/k256.gguf" "$here/k256_${t}_imatrix.gguf" $t 1 >/dev/null 2>&1
done
for t in TQ1_0 TQ2_0; do
  "$quantize" "$tmp/k256.gguf" "$here/k256_${t}.gguf" $t 1 >/dev/null 2>&1
done
for t in IQ3_XXS IQ2_XXS IQ2_XS IQ2_M IQ1_S IQ1_M; do
  "$quantize" --imatrix "$here/imatrix_k256_full.dat" "$tmp/k256.gguf" "$here/k256_${t}_imatrix_full.gguf" $t 1 >/dev/null 2>&1
done
iq_files="k256_IQ4_XS_imatrix.gguf k256_IQ3_S_imatrix.gguf k256_TQ1_0.gguf k256_TQ2_0.gguf
  k256_IQ3_XXS_imatrix_full.gguf k256_IQ2_XXS_imatrix_full.gguf k256_IQ2_XS_imatrix_full.gguf
  k256_IQ2_M_imatrix_full.gguf k256_IQ1_S_imatrix_full.gguf k256_IQ1_M_imatrix_full.gguf"
# Without an imatrix llama-quantize only lets the exempt token_embd take IQ3_XXS, IQ2_S or IQ1_M (IQ2_XXS,
# IQ2_XS, IQ1_S abort without one): preset Q4_0 with --token-embedding-type, keeping only the FNV-1a hash of
# the token_embd bytes (no_imatrix_fnv.txt: <type> <tensor> <bytes> <hash>), not the files.
for t in IQ3_XXS IQ2_S IQ1_M; do
  "$quantize" --token-embedding-type $t "$tmp/k256.gguf" "$tmp/emb_$t.gguf" Q4_0 1 >/dev/null 2>&1
done
/usr/bin/python3 - "$here" "$tmp" <<'PY2' > "$here/no_imatrix_fnv.txt"
import sys
sys.path.insert(0, sys.argv[1] + "/../../exporters")
from ggml_dequant_reference import fnv1a_bytes, read_gguf
for t in ["IQ3_XXS", "IQ2_S", "IQ1_M"]:
    for name, kind, n, raw in read_gguf("%s/emb_%s.gguf" % (sys.argv[2], t)):
        if name == "token_embd.weight":
            print(kind, name, len(raw), fnv1a_bytes(raw))
PY2
src="$build/llamacpp-tools/src"
cc -O2 -I"$src/ggml/include" "$here/dequant_fnv.c" "$build/llamacpp-tools/build/ggml/src/libggml-base.a" \
   -lstdc++ -lm -lpthread -fopenmp -o "$tmp/dequant_fnv"
(cd "$here" && "$tmp/dequant_fnv" d64_Q4_0_imatrix.gguf d64_Q4_1_imatrix.gguf d64_Q5_1_imatrix.gguf \
   k256_Q2_K_imatrix.gguf k256_Q3_K_M_imatrix.gguf k256_Q5_K_M_imatrix.gguf $iq_files) > "$here/dequant_fnv.txt"
cc -O2 -I"$src/ggml/include" -I"$src/ggml/src" "$here/grid_fnv.c" -o "$tmp/grid_fnv"
"$tmp/grid_fnv" > "$here/grid_fnv.txt"
# preset_types.txt: llama-quantize's type for every quantizable tensor, or the tensor it refuses at
# ("refused TENSOR"), per file type of qforge's table, on the three random llamas of
# tools/llamacpp/quantize_presets.sh (the live peer.llama_quantize_presets comparison), without and with
# its imatrix; a difference from qforge does not stop the recording.
rm -f "$here/preset_types.txt"
QFORGE_PRESET_TYPES_OUT="$here/preset_types.txt" bash "$here/../../../tools/llamacpp/quantize_presets.sh" \
  "$build/cli/qforge" "$make_model" "$quantize" > /dev/null || true
(cd "$tmp" && sha256sum k256.gguf d64.gguf) > "$here/f32_inputs.sha256"
git -C "$build/llamacpp-tools/src" log -1 --format='llama.cpp source: %H %s' > "$here/llama_cpp_version.txt"
ls -l "$here"
