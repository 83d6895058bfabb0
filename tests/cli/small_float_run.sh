# Sourced by the post-training cli tests (quantize_ptq.sh, quantize_spqr.sh, quantize_gptq_groups.sh): the
# small char-level Llama they quantize, trained on fortunes into "$work/float"; sets $float to its validation loss.
#   train_small_float_run QFORGE WORK
train_small_float_run() {
  cat > "$2/float.pbtxt" <<CONFIG
model { llama { hidden_size: 64 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 128 max_position_embeddings: 64 } }
data { text { corpus_end: 0.3 } batch_size: 16 }
optimizer { name: "adamw" lr: 0.003 }
trainer { steps: 1000 log_every: 100 eval_batches: 8 seed: 3 }
CONFIG
  "$1" train --config "$2/float.pbtxt" --run-dir "$2/float" > "$2/float.out"
  float=$(tail -n 1 "$2/float.out" | sed 's/.*val_loss=\([0-9.]*\).*/\1/')
}
