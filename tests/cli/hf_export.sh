# `qforge export --format hf` (docs/hf.md §8) read back by `qforge probs --hf`, the files checked by
# tests/exporters/hf_export_check.py (json + struct + numpy, not qforge's C++).
#   hf_export.sh QFORGE PYTHON dtypes          a char-level run: F32 (one file and sharded) reads back with the
#                                              run's probabilities bit for bit; F16 and BF16 hold the F32 values
#                                              rounded to nearest even and read back as an F32 folder of those
#                                              rounded values does, bit for bit, and as hf_reference's float64
#                                              forward on them (1e-5)  -> "dtypes ok: ..."
#   hf_export.sh QFORGE PYTHON arch VARIANT    a run initialized from hf_reference.py's VARIANT folder (Qwen2,
#                                              Mistral, head_dim + biases, llama3 rope, tied) exports its
#                                              architecture back: the same config.json keys, probabilities
#                                              bit for bit                        -> "arch ok: ..."
set -euo pipefail
qforge=$1 python=$2 mode=$3 variant=${4:-llama_gqa}
here=$(cd "$(dirname "$0")/.." && pwd)
check_py="$here/exporters/hf_export_check.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
tokens=3,17,0,42,42,7,63,5,29,11
same() {  # same A B what: the two probs outputs are identical text (9 significant digits, a float32 exactly)
  cmp -s "$1" "$2" || { echo "FAILED: $3: $(python_maxdiff "$1" "$2") max abs diff"; exit 1; }
}
python_maxdiff() { "$python" "$check_py" maxdiff "$1" "$2"; }

case "$mode" in
  dtypes)
    cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 48 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 20 log_every: 10 eval_batches: 2 seed: 1 }
CONFIG
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" > /dev/null
    "$qforge" probs --checkpoint "$work/run" --tokens "$tokens" > "$work/run.json"
    "$qforge" export --checkpoint "$work/run" --format hf -o "$work/f32" > /dev/null
    "$python" "$check_py" layout "$work/f32"
    "$qforge" probs --hf "$work/f32" --tokens "$tokens" > "$work/f32.json"
    same "$work/run.json" "$work/f32.json" "F32 export vs the run"
    # 20000 bytes: several shards, the 113 x 32 embedding (14464 bytes) alone in a shard with a norm or two.
    "$qforge" export --checkpoint "$work/run" --format hf --max-shard-size 20000 -o "$work/sharded" > /dev/null
    "$python" "$check_py" layout "$work/sharded" 20000
    "$qforge" probs --hf "$work/sharded" --tokens "$tokens" > "$work/sharded.json"
    same "$work/run.json" "$work/sharded.json" "sharded F32 export vs the run"
    line="F32 and sharded F32 = the run bit for bit"
    for dtype in f16 bf16; do
      "$qforge" export --checkpoint "$work/run" --format hf --dtype "$dtype" -o "$work/$dtype" > /dev/null
      "$python" "$check_py" layout "$work/$dtype"
      "$python" "$check_py" rounded "$work/f32" "$work/$dtype" "$work/${dtype}_as_f32"
      "$qforge" probs --hf "$work/$dtype" --tokens "$tokens" > "$work/$dtype.json"
      "$qforge" probs --hf "$work/${dtype}_as_f32" --tokens "$tokens" > "$work/${dtype}_as_f32.json"
      same "$work/$dtype.json" "$work/${dtype}_as_f32.json" "$dtype export vs an F32 folder of its rounded values"
      "$python" "$check_py" reference "$work/$dtype" "$tokens" "$work/${dtype}_reference.json"
      agree=$("$python" "$here/exporters/hf_reference.py" compare "$work/${dtype}_reference.json" "$work/$dtype.json") ||
        { echo "FAILED: $dtype vs the float64 reference: $agree"; exit 1; }
      line="$line; $dtype: = its rounded weights bit for bit, float64 reference ${agree%% over*}, vs the run $(python_maxdiff "$work/run.json" "$work/$dtype.json")"
    done
    echo "dtypes ok: $line"
    ;;
  arch)
    "$python" "$here/exporters/hf_reference.py" write "$work/model" "$variant"
    "$python" -c "import numpy as np; np.random.default_rng(5).integers(0, 64, 6000).astype('<u2').tofile('$work/tokens.u16')"
    cat > "$work/run.pbtxt" <<CONFIG
model { llama { max_position_embeddings: 16 } }
data { text { token_file: "$work/tokens.u16" } batch_size: 4 }
optimizer { lr: 1e-12 }
trainer { steps: 2 log_every: 1 eval_batches: 2 seed: 3 }
CONFIG
    "$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --set quantization.init_from="$work/model" > /dev/null
    "$qforge" export --checkpoint "$work/run" --format hf -o "$work/out" > /dev/null
    "$python" "$check_py" layout "$work/out"
    "$qforge" probs --checkpoint "$work/run" --tokens "$tokens" > "$work/run.json"
    "$qforge" probs --hf "$work/out" --tokens "$tokens" > "$work/out.json"
    same "$work/run.json" "$work/out.json" "$variant: export vs the run"
    # The architecture's keys come back; max_position_embeddings is the run's context (docs/hf.md §8).
    "$python" - "$work/model/config.json" "$work/out/config.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
keys = ["architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "num_key_value_heads", "rms_norm_eps", "rope_theta", "tie_word_embeddings",
        "head_dim", "attention_bias", "mlp_bias", "sliding_window", "hidden_act"]
rope = lambda r: None if r is None else {("rope_type" if k == "type" else k): v for k, v in r.items()}
bad = [k for k in keys if k in a and a[k] != b.get(k)] + (["rope_scaling"] if rope(a.get("rope_scaling")) != b.get("rope_scaling") else [])
if a["model_type"] == "qwen2": bad = [k for k in bad if k != "sliding_window"]  # unused while use_sliding_window is false
if bad: sys.exit("FAILED: config.json keys differ: " + ", ".join(f"{k}: {a.get(k)} -> {b.get(k)}" for k in bad))
PY
    echo "arch ok: $variant exported as $("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['architectures'][0])" "$work/out/config.json"), probabilities = the run's bit for bit"
    ;;
esac
