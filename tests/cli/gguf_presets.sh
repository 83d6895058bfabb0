#!/usr/bin/env bash
# `qforge export --type P` for the llama-quantize file types of the mix table (docs/gguf.md §7), on a
# briefly trained char llama (dim 256, 8 layers, GQA 4, so the k-quant rows, the layer-position rules and
# the GQA rules all apply), read back by `qforge probs --gguf`:
#   - the tensor types in the file are the mix's (spot checks per preset, from the §7 table),
#   - the export and `quantize-gguf` of the run's F32 export hold the same tensor bytes, so the two files
#     give the same probabilities, digit for digit,
#   - the F32 export gives the float run's probabilities (max |dp| < 1e-5), each preset's file probabilities
#     that differ from them (quantization) but by less than 0.05 (max |dp| printed per preset),
#   - Q2_K_S and IQ3_XXS are refused without an imatrix, naming the type and a tensor, and written with one.
# Prints "PRESET: max_abs_dp=... bytes=..." per preset, then "gguf presets export and read back".
set -euo pipefail
qforge=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 60); do echo "line $i: the quick brown fox jumps over the lazy dog, said the owl."; done > "$work/corpus.txt"
cat > "$work/float.pbtxt" <<CONFIG
model { llama { reserve_gguf_tokens: true hidden_size: 256 num_hidden_layers: 8 num_attention_heads: 4 num_key_value_heads: 1
                intermediate_size: 256 max_position_embeddings: 32 } }
data { text { corpus: "$work/corpus.txt" } batch_size: 4 }
optimizer { name: "adamw" lr: 0.003 }
trainer { steps: 20 log_every: 20 eval_batches: 1 seed: 5 }
CONFIG
"$qforge" train --config "$work/float.pbtxt" --run-dir "$work/float" | tail -n 1
tokens=1,5,9,12,3,7,20,4,11,2
"$qforge" probs --checkpoint "$work/float" --tokens "$tokens" > "$work/float.json"
"$qforge" export --checkpoint "$work/float" --type F32 -o "$work/f32.gguf" > /dev/null
"$qforge" probs --gguf "$work/f32.gguf" --tokens "$tokens" > "$work/f32.json"

# The F32 file is the float run (reserved GGUF tokens: same vocabulary), up to float summation order.
/usr/bin/python3 "$(dirname "$0")/gguf_presets_probs.py" "$work/float.json" "$work/f32.json" F32 "$(stat -c %s "$work/f32.gguf")" 1e-5
type_of() { "$qforge" inspect "$1" | awk -v t="$2" '$1 == t {print $2}'; }
expect_type() {  # file tensor type
  local got; got=$(type_of "$1" "$2")
  [ "$got" = "$3" ] || { echo "FAILED $(basename "$1"): $2 is $got, the mix says $3"; exit 1; }
}
for preset in Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q5_K_S Q5_K_M Q6_K IQ4_XS IQ3_S IQ3_M TQ2_0; do
  file="$work/$preset.gguf"
  "$qforge" export --checkpoint "$work/float" --type "$preset" -o "$file" > /dev/null
  "$qforge" quantize-gguf "$work/f32.gguf" "$work/$preset.requantized.gguf" "$preset" > /dev/null
  "$qforge" probs --gguf "$file" --tokens "$tokens" > "$work/$preset.json"
  "$qforge" probs --gguf "$work/$preset.requantized.gguf" --tokens "$tokens" > "$work/$preset.requantized.json"
  cmp -s "$work/$preset.json" "$work/$preset.requantized.json" \
    || { echo "FAILED $preset: export and quantize-gguf files give different probabilities"; exit 1; }
  /usr/bin/python3 "$(dirname "$0")/gguf_presets_probs.py" "$work/f32.json" "$work/$preset.json" "$preset" "$(stat -c %s "$file")"
done
# Spot checks of the §7 table (8 layers: n/8 = 1, n/16 = 0; GQA 4; rows of 256; untied).
expect_type "$work/Q2_K.gguf" blk.3.attn_v.weight Q4_K         # n_gqa >= 4
expect_type "$work/Q2_K.gguf" blk.3.ffn_down.weight Q3_K
expect_type "$work/Q2_K.gguf" blk.3.attn_output.weight Q3_K
expect_type "$work/Q2_K.gguf" output.weight Q6_K
expect_type "$work/Q3_K_M.gguf" blk.1.attn_v.weight Q5_K       # i_attention_wv < 2
expect_type "$work/Q3_K_M.gguf" blk.2.attn_v.weight Q4_K
expect_type "$work/Q3_K_M.gguf" blk.0.ffn_down.weight Q4_K     # 0 < 8/16 is false
expect_type "$work/Q3_K_M.gguf" blk.0.attn_q.weight Q3_K
expect_type "$work/Q3_K_L.gguf" blk.5.attn_output.weight Q5_K
expect_type "$work/Q4_K_S.gguf" blk.3.attn_v.weight Q5_K       # i_attention_wv < 4
expect_type "$work/Q4_K_S.gguf" blk.4.attn_v.weight Q4_K
expect_type "$work/Q4_K_S.gguf" blk.0.ffn_down.weight Q5_K     # i < n/8
expect_type "$work/Q4_K_S.gguf" blk.1.ffn_down.weight Q4_K
expect_type "$work/Q5_K_M.gguf" blk.1.ffn_down.weight Q5_K     # use_more_bits(1, 8) is false
expect_type "$work/Q5_K_M.gguf" blk.3.ffn_down.weight Q6_K     # (3 - 1) % 3 == 2
expect_type "$work/Q4_0.gguf" blk.0.ffn_down.weight Q4_0       # Q4_1 only with an imatrix
expect_type "$work/Q4_0.gguf" token_embd.weight Q4_0
expect_type "$work/Q6_K.gguf" blk.7.attn_q.weight Q6_K
expect_type "$work/IQ4_XS.gguf" blk.3.attn_v.weight Q5_K       # n_gqa >= 4
expect_type "$work/IQ4_XS.gguf" blk.0.ffn_down.weight Q5_K     # no imatrix and i < n/8
expect_type "$work/IQ4_XS.gguf" blk.1.ffn_down.weight IQ4_XS
expect_type "$work/IQ3_S.gguf" blk.5.attn_v.weight Q4_K        # n_gqa >= 4
expect_type "$work/IQ3_S.gguf" blk.5.attn_q.weight IQ3_S
expect_type "$work/IQ3_M.gguf" blk.0.ffn_down.weight Q4_K      # i < n/8
expect_type "$work/IQ3_M.gguf" blk.1.ffn_down.weight IQ3_S
expect_type "$work/IQ3_M.gguf" blk.2.attn_output.weight Q4_K
expect_type "$work/TQ2_0.gguf" token_embd.weight Q4_K          # untied token_embd of a ternary file
expect_type "$work/TQ2_0.gguf" blk.0.ffn_up.weight TQ2_0
expect_type "$work/TQ2_0.gguf" output.weight Q6_K

# Q2_K_S: llama-quantize's refusal without an imatrix; with one, the first layer's ffn_down is Q4_K.
if "$qforge" export --checkpoint "$work/float" --type Q2_K_S -o "$work/x.gguf" 2> "$work/err.txt"; then
  echo "FAILED: Q2_K_S written without an imatrix"; exit 1
fi
grep -q "file type Q2_K_S needs an importance matrix (--imatrix) for tensor 'blk.0.attn_q.weight' (Q2_K)" "$work/err.txt" \
  || { echo "FAILED: refusal does not name type and tensor:"; cat "$work/err.txt"; exit 1; }
cat "$work/err.txt"
"$qforge" imatrix --checkpoint "$work/float" --chunks 8 -o "$work/im.gguf" > /dev/null
"$qforge" export --checkpoint "$work/float" --type Q2_K_S --imatrix "$work/im.gguf" -o "$work/Q2_K_S.gguf" > /dev/null
expect_type "$work/Q2_K_S.gguf" blk.0.ffn_down.weight Q4_K
expect_type "$work/Q2_K_S.gguf" blk.1.ffn_down.weight Q2_K
"$qforge" probs --gguf "$work/Q2_K_S.gguf" --tokens "$tokens" > /dev/null
# IQ3_XXS: its attn_q/attn_k are IQ2_S, which llama-quantize will not write without an imatrix.
if "$qforge" export --checkpoint "$work/float" --type IQ3_XXS -o "$work/x.gguf" 2> "$work/err.txt"; then
  echo "FAILED: IQ3_XXS written without an imatrix"; exit 1
fi
grep -q "file type IQ3_XXS needs an importance matrix (--imatrix) for tensor 'blk.0.attn_q.weight' (IQ2_S)" "$work/err.txt" \
  || { echo "FAILED: IQ3_XXS refusal does not name type and tensor:"; cat "$work/err.txt"; exit 1; }
"$qforge" export --checkpoint "$work/float" --type IQ3_XXS --imatrix "$work/im.gguf" -o "$work/IQ3_XXS.gguf" > /dev/null
expect_type "$work/IQ3_XXS.gguf" blk.0.attn_q.weight IQ2_S
expect_type "$work/IQ3_XXS.gguf" blk.0.attn_v.weight Q4_K      # n_gqa >= 4
expect_type "$work/IQ3_XXS.gguf" blk.0.ffn_down.weight IQ3_XXS # with an imatrix: the base
expect_type "$work/IQ3_XXS.gguf" blk.0.attn_output.weight IQ3_S
expect_type "$work/IQ3_XXS.gguf" token_embd.weight IQ3_S
expect_type "$work/IQ3_XXS.gguf" output.weight Q5_K
"$qforge" probs --gguf "$work/IQ3_XXS.gguf" --tokens "$tokens" > "$work/IQ3_XXS.json"
/usr/bin/python3 "$(dirname "$0")/gguf_presets_probs.py" "$work/f32.json" "$work/IQ3_XXS.json" IQ3_XXS "$(stat -c %s "$work/IQ3_XXS.gguf")"
echo "gguf presets export and read back"
