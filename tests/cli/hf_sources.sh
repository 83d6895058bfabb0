# A Hugging Face model folder as the model source of train (quantization.init_from), quantize (--hf) and
# qlora (--base), issue 17. The folder is tests/exporters/hf_reference.py's random tiny Llama (vocabulary 64);
# the data are random token ids (tokenizer.json is not read yet). The float folder's own validation loss
# on a run's data is `eval --checkpoint RUN --hf DIR` (trainers/gguf_evaluate.h), the number each case is
# checked against.
#   hf_sources.sh QFORGE PYTHON train|quantize|qlora  -> "<mode> ok: ..." only when every check passed
set -euo pipefail
qforge=$1 python=$2 mode=$3
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$python" "$here/exporters/hf_reference.py" write "$work/model" llama_gqa
"$python" -c "import numpy as np; np.random.default_rng(5).integers(0, 64, 6000).astype('<u2').tofile('$work/tokens.u16')"
cat > "$work/run.pbtxt" <<CONFIG
model { llama { max_position_embeddings: 16 } }
data { text { token_file: "$work/tokens.u16" } batch_size: 4 }
optimizer { lr: 1e-12 }
trainer { steps: 2 log_every: 1 eval_batches: 4 seed: 3 }
CONFIG
loss() { sed -n 's/.*val_loss=\([0-9.e+-]*\).*/\1/p' | tail -1; }
check() {  # check "what" python-expression: fails the test naming what
  "$python" -c "import sys; sys.exit(0 if ($2) else 1)" || { echo "FAILED: $1"; exit 1; }
}

case "$mode" in
  train)
    # lr 1e-12: the trained run is the folder's model, so its loss is the folder's (eval --hf) to 1e-6.
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set quantization.init_from="$work/model" > /dev/null
    grep -q "hf: \"$work/model\"" "$work/run/config.pbtxt" || { echo "FAILED: config.pbtxt does not record model.llama.hf"; exit 1; }
    own=$("$qforge" eval --checkpoint "$work/run" | loss)
    folder=$("$qforge" eval --checkpoint "$work/run" --hf "$work/model" | loss)
    check "trained loss $own vs the folder's $folder" "abs($own - $folder) < 1e-6 and $folder > 4.0"
    # Resuming finds the folder through the saved config (the architecture is rebuilt from config.json).
    resumed=$("$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set quantization.init_from="$work/model" \
              --set trainer.steps=3 | grep -o 'step=[0-9]*')
    check "resumed run ended at $resumed" "'$resumed' == 'step=3'"
    echo "train ok: init_from the HF folder, val_loss $own = the folder's $folder; resumed to $resumed"
    ;;
  quantize)
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set quantization.init_from="$work/model" > /dev/null
    folder=$("$qforge" eval --checkpoint "$work/run" --hf "$work/model" | loss)
    q8=$("$qforge" quantize --hf "$work/model" --config "$work/run.pbtxt" --scheme int8:channel -o "$work/q8" | loss)
    q8_eval=$("$qforge" eval --checkpoint "$work/q8" | loss)
    q2=$("$qforge" quantize --hf "$work/model" --config "$work/run.pbtxt" --scheme int2:channel -o "$work/q2" | loss)
    grep -q "hf: \"$work/model\"" "$work/q8/config.pbtxt" || { echo "FAILED: config.pbtxt does not record model.llama.hf"; exit 1; }
    check "int8 $q8 (eval $q8_eval), int2 $q2, float $folder" \
      "'$q8' == '$q8_eval' and 0 < abs($q8 - $folder) < 0.01 * $folder and abs($q2 - $folder) > 10 * abs($q8 - $folder)"
    # The quantized run exported as an F32 HF folder holds its fake-quantized weights: the same probabilities.
    "$qforge" export --checkpoint "$work/q8" --format hf -o "$work/q8_hf" > /dev/null 2>&1
    "$qforge" probs --checkpoint "$work/q8" --tokens 3,17,0,42 > "$work/q8.json"
    "$qforge" probs --hf "$work/q8_hf" --tokens 3,17,0,42 > "$work/q8_hf.json"
    cmp -s "$work/q8.json" "$work/q8_hf.json" || { echo "FAILED: export --format hf of the int8 run changes its probabilities"; exit 1; }
    echo "quantize ok: float $folder, int8:channel $q8 (eval of the run: $q8_eval), int2:channel $q2; int8 run = its HF export"
    ;;
  qlora)
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set quantization.init_from="$work/model" > /dev/null
    folder=$("$qforge" eval --checkpoint "$work/run" --hf "$work/model" | loss)
    # B starts at zero and lr is 1e-12: the run's loss is the NF4 base's, near the float folder's.
    nf4=$("$qforge" qlora --base "$work/model" --config "$work/run.pbtxt" --run-dir "$work/lora" | loss)
    grep -q "base: \"$work/model\"" "$work/lora/config.pbtxt" || { echo "FAILED: config.pbtxt does not record lora.base"; exit 1; }
    evaluated=$("$qforge" eval --checkpoint "$work/lora" | loss)
    resumed=$("$qforge" qlora --base "$work/model" --config "$work/run.pbtxt" --run-dir "$work/lora" --set trainer.steps=3 | grep -o 'step=[0-9]*')
    check "NF4 base $nf4 (eval $evaluated), float $folder, resumed $resumed" \
      "'$nf4' == '$evaluated' and 0 < abs($nf4 - $folder) < 0.03 * $folder and '$resumed' == 'step=3'"
    echo "qlora ok: NF4 base from the HF folder $nf4 (eval $evaluated), float $folder; resumed to $resumed"
    ;;
esac
