# Hugging Face model folders into qforge (issue 17): tests/exporters/hf_reference.py writes a random tiny
# folder with its own safetensors writer and its own float64 forward; `qforge probs --hf` must agree.
#   hf_import.sh QFORGE PYTHON agree VARIANT       -> "agree: max abs diff ..."
#   hf_import.sh QFORGE PYTHON refuse VARIANT KIND -> the error qforge printed (the ctest regex checks it)
#   hf_import.sh QFORGE PYTHON generate            -> generate --prompt-tokens: the reference's greedy token
#   hf_import.sh QFORGE PYTHON eval                -> eval --checkpoint RUN --hf: a folder of the run's shape whose
#                                                     lm_head is zero has validation loss ln(vocabulary) exactly
set -euo pipefail
qforge=$1 python=$2 mode=$3 variant=${4:-llama_gqa}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$python" "$here/exporters/hf_reference.py" write "$work/model" "$variant"
tokens=$("$python" -c "import json,sys; print(','.join(map(str, json.load(open(sys.argv[1]))['tokens'])))" "$work/model/expected.json")
case "$mode" in
  agree)
    "$qforge" probs --hf "$work/model" --tokens "$tokens" > "$work/qforge.json"
    # ctest only matches the output, so "agree:" is printed only when compare passed (set -e exits first).
    result=$("$python" "$here/exporters/hf_reference.py" compare "$work/model/expected.json" "$work/qforge.json")
    echo "agree: $result"
    ;;
  refuse)
    "$python" "$here/exporters/hf_reference.py" corrupt "$work/model" "$5"
    if "$qforge" probs --hf "$work/model" --tokens "$tokens" > /dev/null 2> "$work/err"; then
      echo "qforge accepted the damaged folder ($5)"; exit 1
    fi
    # Paths are printed relative to the temporary folder so the ctest regexes can name the files.
    sed "s|$work/model/||g" "$work/err"
    ;;
  generate)
    # Greedy continuation of the token ids; its first new token is the argmax of the reference's last row.
    out=$("$qforge" generate --hf "$work/model" --prompt-tokens "$tokens" --tokens 3 --temperature 0)
    want=$("$python" -c "import json,sys; import numpy as np; print(int(np.argmax(json.load(open(sys.argv[1]))['probs'][-1])))" "$work/model/expected.json")
    got=$(echo "$out" | tr ',' '\n' | sed -n "$(( $(echo "$tokens" | tr ',' '\n' | wc -l) + 1 ))p")
    [ "$(echo "$out" | tr ',' '\n' | wc -l)" -eq $(( $(echo "$tokens" | tr ',' '\n' | wc -l) + 3 )) ] || { echo "generate printed '$out'"; exit 1; }
    [ "$got" = "$want" ] || { echo "first generated token $got, reference argmax $want"; exit 1; }
    if "$qforge" generate --hf "$work/model" --prompt "hello" 2> "$work/err"; then echo "text prompt accepted"; exit 1; fi
    echo "generate: greedy token $got matches the reference; text prompt refused: $(cat "$work/err")"
    ;;
  eval)
    cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 48 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 2 log_every: 1 eval_batches: 2 seed: 1 }
CONFIG
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" > /dev/null
    vocab=$("$qforge" probs --checkpoint "$work/run" --tokens 0 | "$python" -c "import json,sys; print(len(json.load(sys.stdin)['probs'][0]))")
    "$python" "$here/exporters/hf_reference.py" write "$work/run_shape" llama_gqa \
      "{\"vocab_size\": $vocab, \"max_position_embeddings\": 32, \"zero_lm_head\": true}"
    loss=$("$qforge" eval --checkpoint "$work/run" --hf "$work/run_shape" | sed 's/.*val_loss=\([0-9.]*\).*/\1/')
    own=$("$qforge" eval --checkpoint "$work/run" | sed 's/.*val_loss=\([0-9.]*\).*/\1/')
    "$python" -c "import math,sys; l,v,o=float(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]); d=abs(l-math.log(v)); ok=d < 1e-5 and abs(o-l) > 1e-3; print(('eval --hf: ' if ok else 'FAILED: ') + f'val_loss {l} vs ln({v}) = {math.log(v):.6f} (diff {d:.1e}; the run itself: {o})'); sys.exit(0 if ok else 1)" "$loss" "$vocab" "$own"
    ;;
esac
