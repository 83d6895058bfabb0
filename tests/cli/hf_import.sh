# Hugging Face model folders into qforge (issue 17): tests/exporters/hf_reference.py writes a random tiny
# folder with its own safetensors writer and its own float64 forward; `qforge probs --hf` must agree.
#   hf_import.sh QFORGE PYTHON agree VARIANT       -> "agree: max abs diff ..."
#   hf_import.sh QFORGE PYTHON refuse VARIANT KIND -> the error qforge printed (the ctest regex checks it)
#   hf_import.sh QFORGE PYTHON generate            -> generate --prompt-tokens and eval-free smoke of ids
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
    echo "agree: $("$python" "$here/exporters/hf_reference.py" compare "$work/model/expected.json" "$work/qforge.json")"
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
esac
