#!/usr/bin/env bash
# `qforge imatrix` writes llama.cpp imatrix files (GGUF and legacy .dat) that `qforge export --imatrix`
# reads: the GGUF imatrix carries llama-imatrix's keys and tensors, the Q4_K_M export changes with the
# importance (k-quant rows: dim 256), both formats give the same file, and bad input fails with a
# message naming the file.
set -euo pipefail
qforge=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 80); do echo "fortune $i: a bird in the hand is worth two in the bush, said the owl."; done > "$work/corpus.txt"
cat > "$work/float.pbtxt" <<CONFIG
model { llama { hidden_size: 256 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 256 max_position_embeddings: 32 } }
data { text { corpus: "$work/corpus.txt" } batch_size: 4 }
optimizer { name: "adamw" lr: 0.003 }
trainer { steps: 10 log_every: 10 eval_batches: 1 seed: 3 }
CONFIG
"$qforge" train --config "$work/float.pbtxt" --run-dir "$work/float" | tail -n 1
"$qforge" imatrix --checkpoint "$work/float" --chunks 20 -o "$work/im.gguf"
"$qforge" imatrix --checkpoint "$work/float" --chunks 20 -o "$work/im.dat"
"$qforge" imatrix --checkpoint "$work/float" --data "$work/corpus.txt" --chunks 4 --process-output -o "$work/im_out.gguf"
"$qforge" inspect "$work/im.gguf" > "$work/inspect.txt"
grep -q 'general.type .*"imatrix"' "$work/inspect.txt" || { echo "no general.type imatrix"; exit 1; }
for key in imatrix.datasets imatrix.chunk_count imatrix.chunk_size blk.0.attn_q.weight.in_sum2 blk.0.ffn_down.weight.counts; do
  grep -q "$key" "$work/inspect.txt" || { echo "missing $key"; cat "$work/inspect.txt"; exit 1; }
done
grep -Eq '^ +output\.weight\.in_sum2' "$work/inspect.txt" && { echo "output.weight recorded without --process-output"; exit 1; }
"$qforge" inspect "$work/im_out.gguf" | grep -Eq '^ +output\.weight\.in_sum2' || { echo "--process-output did not record output.weight"; exit 1; }
"$qforge" export --checkpoint "$work/float" --type Q4_K_M -o "$work/plain.gguf"
"$qforge" export --checkpoint "$work/float" --type Q4_K_M --imatrix "$work/im.gguf" -o "$work/imat.gguf"
"$qforge" export --checkpoint "$work/float" --type Q4_K_M --imatrix "$work/im.dat" -o "$work/imat_dat.gguf"
cmp -s "$work/plain.gguf" "$work/imat.gguf" && { echo "the imatrix did not change the Q4_K_M file"; exit 1; }
# llama-quantize's record of the imatrix (quantize.imatrix.*), as quantize-gguf writes it.
"$qforge" inspect "$work/imat.gguf" > "$work/imat_inspect.txt"
chunks=$(sed -n 's/^ *imatrix.chunk_count .* \([0-9][0-9]*\)$/\1/p' "$work/inspect.txt")
for line in "quantize.imatrix.file .*$work/im.gguf" "quantize.imatrix.entries_count .* 7$" \
            "quantize.imatrix.chunks_count .* $chunks\$"; do
  grep -Eq "$line" "$work/imat_inspect.txt" || { echo "no '$line' in the export"; grep quantize "$work/imat_inspect.txt"; exit 1; }
done
"$qforge" inspect "$work/plain.gguf" | grep -q quantize.imatrix && { echo "imatrix record without --imatrix"; exit 1; }
# What the files encode, read in Python (imatrix_compare.py): the legacy file stores (mean x^2) * ncall,
# read back / ncall, so both imatrix files hold the same importance up to float rounding, and the two
# exports the same bytes but for a few near-tie k-quant blocks.
/usr/bin/python3 "$(dirname "$0")/imatrix_compare.py" imatrix "$work/im.gguf" "$work/im.dat"
/usr/bin/python3 "$(dirname "$0")/imatrix_compare.py" blocks "$work/imat.gguf" "$work/imat_dat.gguf"
if "$qforge" imatrix --checkpoint "$work/float" -o "$work/im.bin" 2> "$work/err.txt"; then echo "accepted .bin"; exit 1; fi
grep -q "im.bin" "$work/err.txt" || { echo "error does not name the file"; cat "$work/err.txt"; exit 1; }
head -c 40 "$work/im.dat" > "$work/cut.dat"
if "$qforge" export --checkpoint "$work/float" --type Q4_K_M --imatrix "$work/cut.dat" -o "$work/x.gguf" 2> "$work/err.txt"; then
  echo "accepted a truncated imatrix"; exit 1
fi
grep -q "cut.dat" "$work/err.txt" || { echo "error does not name the file"; cat "$work/err.txt"; exit 1; }
cat "$work/err.txt"
echo "imatrix files written, read and used by export"
