# Sourced by the post-training cli tests (quantize_ptq.sh, quantize_spqr.sh, quantize_gptq_groups.sh,
# quantize_quip_sharp.sh) as `source small_float_run.sh QFORGE`: strict mode, $qforge, a temporary $work
# removed on exit, and the small char-level Llama they quantize, trained on fortunes into "$work/float";
# sets $float to its validation loss.
set -euo pipefail
qforge=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/float.pbtxt" <<CONFIG
model { llama { hidden_size: 64 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 128 max_position_embeddings: 64 } }
data { text { corpus_end: 0.3 } batch_size: 16 }
optimizer { name: "adamw" lr: 0.003 }
trainer { steps: 1000 log_every: 100 eval_batches: 8 seed: 3 }
CONFIG
"$qforge" train --config "$work/float.pbtxt" --run-dir "$work/float" > "$work/float.out"
float=$(tail -n 1 "$work/float.out" | sed 's/.*val_loss=\([0-9.]*\).*/\1/')
