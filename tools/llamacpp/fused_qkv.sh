#!/usr/bin/env bash
# GGUF files with fused blk.N.attn_qkv tensors (convert_hf_to_gguf.py --fuse-qkv; docs/gguf.md §3), label llamacpp.
# fused_qkv_llama writes a random tiny llama and a qwen2 with q/k/v biases (F32, qforge's export); fuse_qkv.py
# (llama.cpp's gguf-py) fuses them as the converter would.
# GGUF_PY is llama.cpp's gguf-py folder (BUILD/llamacpp-tools/src/gguf-py, fetched by `make bench`); without it,
# gguf-py is checked out of the node-llama-cpp bundle into the work folder, and without the bundle the test
# fails (a missing peer must not read as a pass, issue 19).
#   fused_qkv.sh QFORGE FUSED_QKV_LLAMA agreement GGUF_PY
#       fused_agreement.py: qforge reads each fused file (F32, Q8_0, Q4_K_M; qwen2 also with separate biases) to
#       exactly the probabilities of its unfused twin, llama.cpp agrees with qforge on it, and llama.cpp on rows fused
#       in the wrong order (k, q, v) breaks the bounds. Prints "fused qkv: N passed, 0 failed".
#   fused_qkv.sh QFORGE FUSED_QKV_LLAMA qlora GGUF_PY
#       `qlora --base` trains on each fused Q4_K_M file in its own blocks with the losses of its unfused twin.
#   fused_qkv.sh QFORGE FUSED_QKV_LLAMA quantize GGUF_PY LLAMA_QUANTIZE
#       llama-quantize and `qforge quantize-gguf` write the same bytes for both fused F32 files in Q8_0, Q4_K_M and
#       Q3_K_M (attn_qkv takes attn_v's rule), and qforge reads llama-quantize's fused Q4_K_M files to llama.cpp's
#       probabilities. Exit 77 without the binary.
set -euo pipefail
qforge="$(realpath "$1")"; tool="$(realpath "$2")"; mode="$3"; gguf_py="$4"; llama_quantize="${5:-}"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$mode" = quantize ] && [ ! -x "$llama_quantize" ]; then
  echo "llama-quantize not built ($llama_quantize; make bench builds it): skipped"; exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ ! -d "$gguf_py/gguf" ]; then
  bundle="$peer/node_modules/node-llama-cpp/llama/gitRelease.bundle"
  [ -f "$bundle" ] || { echo "FAILED no gguf-py ($gguf_py) and no $bundle (run scripts/setup_node.sh)"; exit 1; }
  git clone -q --no-checkout "$bundle" "$work/llama.cpp" 2>/dev/null && git -C "$work/llama.cpp" checkout -q HEAD -- gguf-py ||
    { echo "FAILED could not check gguf-py out of $bundle"; exit 1; }
  gguf_py="$work/llama.cpp/gguf-py"
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
fuse() { PYTHONPATH="$gguf_py" /usr/bin/python3 "$peer/fuse_qkv.py" "$@" > /dev/null; }
"$tool" "$work"
for name in llama qwen2; do
  mv "$work/$name.gguf" "$work/$name.F32.gguf"
  fuse "$work/$name.F32.gguf" "$work/$name.F32.fused.gguf"
done
passed=0; failed=0
ok() { echo "ok     $1"; passed=$((passed + 1)); }
fail() { echo "FAILED $1"; failed=$((failed + 1)); }
case "$mode" in
  agreement|qlora)
    for name in llama qwen2; do
      fuse "$work/$name.F32.gguf" "$work/$name.F32.kqv.gguf" --order kqv
      for type in Q8_0 Q4_K_M; do
        "$qforge" quantize-gguf "$work/$name.F32.fused.gguf" "$work/$name.$type.fused.gguf" "$type" --threads 1 > /dev/null
        fuse "$work/$name.$type.fused.gguf" "$work/$name.$type.gguf" --split
      done
    done
    ;;&
  agreement)
    fuse "$work/qwen2.F32.gguf" "$work/qwen2.F32.sepbias.gguf" --separate-bias
    /usr/bin/python3 "$peer/fused_agreement.py" "$qforge" "$peer/run.sh" "$work" | tee "$work/agreement.log" || true
    passed=$(grep -c '^ok ' "$work/agreement.log" || true); failed=$(grep -c '^FAILED ' "$work/agreement.log" || true)
    grep -q '^fused agreement: ' "$work/agreement.log" || fail "fused_agreement.py did not finish" ;;
  qlora)
    # qlora --base in the file's own blocks: the fused tensor's row ranges are the twin's tensors, so the losses match.
    # A corpus of all 95 printable characters: the run's character tokenizer is then the file's vocabulary.
    /usr/bin/python3 -c "import random,sys; r=random.Random(5); c=[chr(i) for i in range(32, 127)]; r.shuffle(c); open(sys.argv[1],'w').write(''.join(c + [r.choice(c) for _ in range(4000)]))" "$work/text.txt"
    cat > "$work/qlora.pbtxt" <<CONFIG
data { text { corpus: "$work/text.txt" } batch_size: 2 }
lora { rank: 4 }
optimizer { lr: 0.01 }
trainer { steps: 3 log_every: 1 eval_every: 0 eval_batches: 2 checkpoint_every: 0 seed: 1 }
CONFIG
    for name in llama qwen2; do
      for variant in "" .fused; do
        "$qforge" qlora --config "$work/qlora.pbtxt" --base "$work/$name.Q4_K_M$variant.gguf" --base-format gguf \
          --run-dir "$work/lora.$name$variant" > "$work/lora.$name$variant.log" 2>&1 ||
          { tail -n 5 "$work/lora.$name$variant.log"; fail "qlora --base $name.Q4_K_M$variant.gguf"; continue 2; }
      done
      losses() { grep -oE 'step [0-9]+/[0-9]+ loss [0-9.e+-]+|train_loss=[0-9.e+-]+ val_loss=[0-9.e+-]+' "$1"; }
      if [ -n "$(losses "$work/lora.$name.log")" ] && [ "$(losses "$work/lora.$name.log")" = "$(losses "$work/lora.$name.fused.log")" ]; then
        ok "qlora --base fused $name Q4_K_M: the unfused twin's losses ($(losses "$work/lora.$name.fused.log" | tr '\n' ' '))"
      else
        fail "qlora --base fused $name Q4_K_M: losses $(losses "$work/lora.$name.fused.log" | tr '\n' ' ') vs unfused $(losses "$work/lora.$name.log" | tr '\n' ' ')"
      fi
    done ;;
  quantize)
    for name in llama qwen2; do
      for type in Q8_0 Q4_K_M Q3_K_M; do
        "$llama_quantize" "$work/$name.F32.fused.gguf" "$work/l.$name.$type.gguf" "$type" 1 > "$work/llama.log" 2>&1 ||
          { tail -n 5 "$work/llama.log"; fail "llama-quantize $name $type"; continue; }
        "$qforge" quantize-gguf "$work/$name.F32.fused.gguf" "$work/q.$name.$type.gguf" "$type" --threads 1 > "$work/q.log" 2>&1 ||
          { tail -n 5 "$work/q.log"; fail "quantize-gguf $name $type"; continue; }
        if cmp -s "$work/l.$name.$type.gguf" "$work/q.$name.$type.gguf"; then
          ok "fused $name $type: llama-quantize and quantize-gguf identical ($("$qforge" inspect "$work/q.$name.$type.gguf" | grep -E '^ *blk\.1\.attn_qkv\.weight' | awk '{print $2}') attn_qkv in layer 1)"
        else
          fail "fused $name $type: llama-quantize and quantize-gguf differ"
        fi
      done
      PYTHONPATH="$peer" /usr/bin/python3 - "$qforge" "$peer/run.sh" "$work/l.$name.Q4_K_M.gguf" "$name" <<'PY' && ok "llama-quantize's fused $name Q4_K_M read by qforge" || fail "llama-quantize's fused $name Q4_K_M read by qforge"
import random, sys
from agreement import Checker, compare_sequences
qforge, run_sh, gguf, name = sys.argv[1:]
checker = Checker(qforge, run_sh, ".")
rng = random.Random(7)
sequences = [[rng.randrange(95) for _ in range(64)]]
max_abs, kls = compare_sequences(checker.qforge_probs("--gguf", gguf, sequences), checker.llama_probs(gguf, sequences))
checker.record_bounds(f"llama-quantize's fused {name} Q4_K_M", "Q4_K_M", max_abs, kls)
sys.exit(checker.failed)
PY
    done ;;
  *) echo "fused_qkv.sh: unknown mode '$mode'"; exit 2 ;;
esac
echo "fused qkv: $passed passed, $failed failed"
[ "$failed" = 0 ]
