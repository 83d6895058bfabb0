#!/usr/bin/env bash
# A base that brings its vocabulary tokenizes the fine-tuning text by default (issue 17): `qforge qlora
# --base` on a Q8_0 GGUF exported from a byte run, and on a char run's GGUF and run folder, with
# examples/char_llama_qlora.pbtxt (which names no tokenizer), trains with the base's tokenizer; an
# explicit tokenizer that contradicts the base is refused naming the token.
#   qlora_base_vocabulary.sh QFORGE EXAMPLE  -> "qlora base vocabulary ok" only when every check passed
set -euo pipefail
qforge=$1 example=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fail() { echo "FAILED: $*"; exit 1; }
for kind in byte char; do
  cat > "$work/$kind.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { tokenizer: "$kind" corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 2 eval_batches: 1 seed: 1 }
CONFIG
  "$qforge" train --config "$work/$kind.pbtxt" --run-dir "$work/$kind" > /dev/null
  "$qforge" export --checkpoint "$work/$kind" --type Q8_0 -o "$work/$kind.gguf" > /dev/null
  for base in "$work/$kind.gguf" "$work/$kind"; do
    "$qforge" qlora --base "$base" --config "$example" --run-dir "$work/lora-$kind-$(basename "$base")" \
        --set trainer.steps=1 --set trainer.eval_batches=1 --set trainer.checkpoint_every=0 --set schedule.warmup_steps=0 > "$work/out" 2>&1 \
      || { cat "$work/out"; fail "qlora --base $base"; }
    got=$(sed -n 's/.*tokenizer: "\([a-z]*\)".*/\1/p' "$work/lora-$kind-$(basename "$base")/config.pbtxt" | head -1)
    # A char run records no tokenizer (char is the default); a byte base must give "byte".
    [ "${got:-char}" = "$kind" ] || fail "qlora on $base tokenized with '${got:-char}', not the base's $kind"
  done
done
# The issue's reproduction, the other way round: an explicit char tokenizer on the byte base.
if "$qforge" qlora --base "$work/byte.gguf" --config "$example" --run-dir "$work/bad" --set data.text.tokenizer=char --set schedule.warmup_steps=0 \
     --set trainer.steps=1 > "$work/out" 2>&1; then fail "char data on a byte base was accepted"; fi
grep -q "token 0 is '<0x00>' but this run's tokenizer has" "$work/out" || { cat "$work/out"; fail "unclear error"; }
echo "qlora base vocabulary ok: byte and char bases (GGUF and run folder) tokenize with their own vocabulary"
