# tokenizer.json with Hugging Face folders (docs/hf.md §10), ids checked against @huggingface/tokenizers
# (tokenizers.js, tools/hf_tokenizers/encode.mjs; installed by scripts/setup_node.sh).
#   hf_tokenizer.sh QFORGE PYTHON folder     hf_reference.py's llama_gqa folder with hf_export_check.py's tiny
#       SentencePiece-style tokenizer.json: tokenize/generate --hf use it; train (init_from), quantize --hf and
#       qlora --base on text data tokenize with it; export --format hf writes it back byte for byte
#       -> "folder ok: ..."
#   hf_tokenizer.sh QFORGE PYTHON vocab KIND  a char, byte or char_reserved (reserve_gguf_tokens) run exported
#       as an HF folder: tokenizers.js on its tokenizer.json gives the run's own ids -> "vocab ok: ..."
# Without node or tools/hf_tokenizers/node_modules the test fails: a missing peer is not a pass.
set -euo pipefail
qforge=$1 python=$2 mode=$3 kind=${4:-char}
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
check_py="$here/exporters/hf_export_check.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if ! command -v node > /dev/null || [ ! -d "$root/tools/hf_tokenizers/node_modules/@huggingface/tokenizers" ]; then
  echo "FAILED: node or tools/hf_tokenizers/node_modules missing (scripts/setup_node.sh installs the peer)"; exit 1
fi

# agree TOKENIZER_JSON TEXTS_JSON QFORGE_SOURCE_ARGS...: tokenizers.js ids = `qforge tokenize SOURCE` ids per text.
agree() {
  local file=$1 texts=$2; shift 2
  node "$root/tools/hf_tokenizers/encode.mjs" "$file" "$texts" > "$work/js.txt"
  "$python" - "$texts" "$work/js.txt" "$qforge" "$@" <<'PY'
import json, subprocess, sys
texts, js = json.load(open(sys.argv[1])), [json.loads(l) for l in open(sys.argv[2])]
for text, want in zip(texts, js):
    got = json.loads(subprocess.run([sys.argv[3], "tokenize", *sys.argv[4:], "--text", text], capture_output=True,
                                    text=True, check=True).stdout)["tokens"]
    if got != want: sys.exit(f"FAILED: {sys.argv[4:]} {text!r}: qforge {got}, tokenizers.js {want}")
print(f"{len(texts)} texts, {sum(map(len, js))} ids")
PY
}

case "$mode" in
  folder)
    "$python" "$here/exporters/hf_reference.py" write "$work/model" llama_gqa
    "$python" "$check_py" tokenizer "$work/model" "$work/corpus.txt"
    echo '["the cat sat on the dog", "  then  under its stars", "<s>the cats</s>", "Unknown X!", "ones dogs"]' > "$work/texts.json"
    counted=$(agree "$work/model/tokenizer.json" "$work/texts.json" --hf "$work/model")
    generated=$("$qforge" generate --hf "$work/model" --prompt "the cat" --tokens 4 --temperature 0)
    cat > "$work/run.pbtxt" <<CONFIG
model { llama { max_position_embeddings: 16 } }
data { text { corpus: "$work/corpus.txt" } batch_size: 4 }
optimizer { lr: 1e-12 }
trainer { steps: 2 log_every: 1 eval_batches: 4 seed: 3 }
CONFIG
    loss() { sed -n 's/.*val_loss=\([0-9.e+-]*\).*/\1/p' | tail -1; }
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set quantization.init_from="$work/model" > /dev/null
    "$qforge" quantize --hf "$work/model" --config "$work/run.pbtxt" --scheme int8:channel -o "$work/q8" > /dev/null
    "$qforge" qlora --base "$work/model" --config "$work/run.pbtxt" --run-dir "$work/lora" > /dev/null
    for run in run q8 lora; do agree "$work/model/tokenizer.json" "$work/texts.json" --checkpoint "$work/$run" > /dev/null; done
    own=$("$qforge" eval --checkpoint "$work/run" | loss)
    folder=$("$qforge" eval --checkpoint "$work/run" --hf "$work/model" | loss)
    "$python" -c "import sys; sys.exit(0 if abs($own - $folder) < 1e-6 else 1)" || { echo "FAILED: run $own vs folder $folder"; exit 1; }
    "$qforge" export --checkpoint "$work/run" --format hf -o "$work/out" > /dev/null
    cmp -s "$work/model/tokenizer.json" "$work/out/tokenizer.json" || { echo "FAILED: the exported tokenizer.json differs"; exit 1; }
    "$python" -c "import json,sys; c=json.load(open(sys.argv[1])); t=json.load(open(sys.argv[2])); sys.exit(0 if (c['bos_token_id'], c['eos_token_id'], t['bos_token'], t['eos_token']) == (1, 2, '<s>', '</s>') else 1)" \
      "$work/out/config.json" "$work/out/tokenizer_config.json" || { echo "FAILED: bos/eos of the exported folder"; exit 1; }
    echo "folder ok: tokenize --hf = tokenizers.js ($counted); train, quantize --hf, qlora --base runs tokenize with it; generate: '$generated'; val_loss $own = the folder's $folder; exported tokenizer.json identical"
    ;;
  vocab)
    "$python" - "$work" <<'PY'
import json, sys
lines = ["Hello wörld, naïve café — 123\tTabs", "and  spaces ▂ ✓ 🦙 end.", "The quick brown fox jumps over 7 lazy dogs."]
open(sys.argv[1] + "/corpus.txt", "w").write("\n".join(lines * 60) + "\n")
json.dump(lines + ["\n".join(lines), " ", "  fox  ", "🦙🦙 ✓"], open(sys.argv[1] + "/texts.json", "w"))
PY
    set_args=(--set data.text.tokenizer="${kind%_reserved}")
    [ "$kind" = char_reserved ] && set_args+=(--set model.llama.reserve_gguf_tokens=true)
    cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 48 max_position_embeddings: 32 } }
data { text { corpus: "$work/corpus.txt" } batch_size: 4 }
trainer { steps: 3 log_every: 10 eval_batches: 2 seed: 1 }
CONFIG
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" "${set_args[@]}" > /dev/null
    "$qforge" export --checkpoint "$work/run" --format hf -o "$work/out" > /dev/null
    counted=$(agree "$work/out/tokenizer.json" "$work/texts.json" --checkpoint "$work/run")
    agree "$work/out/tokenizer.json" "$work/texts.json" --hf "$work/out" > /dev/null
    echo "vocab ok: $kind run's tokenizer.json: tokenizers.js = the run's tokenizer = tokenize --hf ($counted)"
    ;;
esac
