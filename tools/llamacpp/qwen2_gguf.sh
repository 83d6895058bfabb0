#!/usr/bin/env bash
# Qwen2 GGUF files with a gpt2 (byte-level BPE) vocabulary, checked by llama.cpp (ctest label llamacpp;
# docs/gguf.md §13, §14). Setup: llama.cpp's models/ggml-vocab-qwen2.gguf (from the source bundle
# node-llama-cpp ships) -> `qforge tokenize --write-tokenizer-json`, cut to 2000 tokens (qwen2_gguf.py
# truncate); a random Hugging Face Qwen2 folder (tests/exporters/hf_reference.py, q/k/v biases, tied) with
# that tokenizer.json; a run initialized from it trains 30 steps on the fortunes text.
#   qwen2_gguf.sh QFORGE agreement
#       export --format gguf F32 and Q8_0 (arch qwen2, gpt2 vocabulary with merges; gguf-py reads the keys),
#       then agreement.py: llama.cpp's tokenization of a text = qforge's, llama.cpp's next-token
#       distributions on the files = `qforge probs --gguf` (docs/gguf.md §11 bounds), and the F32 file in
#       llama.cpp = the trained checkpoint's forward; greedy `qforge generate --gguf` = llama.cpp's text;
#       `export --hf` of the folder writes a file that reads back to the folder's probabilities.
#   qwen2_gguf.sh QFORGE quantize LLAMA_QUANTIZE
#       llama-quantize re-quantizes qforge's F32 file to Q4_K_M: qforge reads it (probs agree with llama.cpp's
#       within the Q4_K_M bound, `eval --gguf` gives a finite loss near the F32 file's), `quantize-gguf` writes
#       the same bytes (and for 7 other file types), and `qlora --base` trains 3 steps on it in its own blocks. Exit 77 without the binary.
#   qwen2_gguf.sh QFORGE lora
#       `qlora --base` on the F32 file, its adapter exported as a GGUF LoRA (arch qwen2, no q/k permutation) and
#       applied by llama.cpp as qforge applies it.
# Prints "qwen2 gguf: N passed, 0 failed" (agreement.py's lines before it).
set -euo pipefail
qforge="$(realpath "$1")"; mode="$2"; llama_quantize="${3:-}"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$peer/../.." && pwd)"
python=/usr/bin/python3
fortunes="${QFORGE_FORTUNES_FILE:-/usr/share/games/fortunes/fortunes}"
if [ "$mode" = quantize ] && [ ! -x "$llama_quantize" ]; then
  echo "llama-quantize not built ($llama_quantize; make bench builds it): skipped"; exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
passed=0
ok() { echo "ok     $1"; passed=$((passed + 1)); }
fail() { echo "FAILED $1"; exit 1; }

git clone -q --no-checkout "$peer/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$work/llama.cpp" 2>/dev/null
git -C "$work/llama.cpp" checkout -q HEAD -- models/ggml-vocab-qwen2.gguf gguf-py
export PYTHONPATH="$work/llama.cpp/gguf-py"
"$qforge" tokenize --gguf "$work/llama.cpp/models/ggml-vocab-qwen2.gguf" --text x \
  --write-tokenizer-json "$work/full.json" > /dev/null
"$python" "$peer/qwen2_gguf.py" truncate "$work/full.json" "$work/tokenizer.json" 2000
"$python" "$root/tests/exporters/hf_reference.py" write "$work/hf" qwen2 \
  '{"vocab_size": 2001, "hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 4, "num_key_value_heads": 2, "bos_token_id": 2000, "eos_token_id": 2000}'
cp "$work/tokenizer.json" "$work/hf/tokenizer.json"
head -c 8000 "$fortunes" > "$work/text.txt"
cat > "$work/run.pbtxt" <<CONFIG
model { llama { max_position_embeddings: 128 } }
data { text { } batch_size: 4 }
optimizer { lr: 0.003 }
trainer { steps: 30 log_every: 1000 eval_every: 0 eval_batches: 4 checkpoint_every: 0 seed: 3 }
CONFIG
"$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" --fresh \
  --set quantization.init_from="$work/hf" | tail -n 1 | sed "s/^/qwen2 run: /"
"$qforge" export --checkpoint "$work/run" --format gguf --type F32 -o "$work/run.F32.gguf" | sed "s/^/export: /"
"$python" "$peer/qwen2_gguf.py" check "$work/run.F32.gguf" && passed=$((passed + 1))

# The fine-tuning data of a qlora run on FILE: the text tokenized with the file's own vocabulary (a token file).
qlora_data() {
  "$qforge" tokenize --gguf "$1" --file "$work/text.txt" > "$work/ids.json"
  "$python" "$peer/qwen2_gguf.py" u32 "$work/ids.json" "$work/ids.u32" > /dev/null
  cat > "$work/qlora.pbtxt" <<CONFIG
data { text { token_file: "$work/ids.u32" } batch_size: 2 }
lora { rank: 4 }
optimizer { lr: 0.01 }
trainer { steps: 3 log_every: 1 eval_every: 0 eval_batches: 2 checkpoint_every: 0 seed: 1 }
CONFIG
}

case "$mode" in
  agreement)
    "$qforge" export --checkpoint "$work/run" --format gguf --type Q8_0 -o "$work/run.Q8_0.gguf" > /dev/null
    "$python" "$peer/agreement.py" --single "$qforge" "$peer/run.sh" "$work/run" "$work/run.F32.gguf" F32 "$work/text.txt"
    "$python" "$peer/agreement.py" --file "$qforge" "$peer/run.sh" "$work/run" "$work/run.Q8_0.gguf" Q8_0 "$work/text.txt"
    # Greedy generation: llama.cpp's continuation (its tokenizer, sampler and detokenizer) = qforge generate's.
    prompt="The quick brown fox"
    "$peer/run.sh" generate.mjs "$work/run.F32.gguf" "$prompt" 12 > "$work/llama_generate.json"
    "$qforge" generate --gguf "$work/run.F32.gguf" --prompt "$prompt" -n 12 -t 0 > "$work/qforge_generate.txt"
    "$python" - "$work/llama_generate.json" "$work/qforge_generate.txt" "$prompt" <<'PY' &&
import json, sys
theirs = json.load(open(sys.argv[1]))["text"]
ours = open(sys.argv[2], encoding="utf-8").read()
ours = ours[:-1] if ours.endswith("\n") else ours
sys.exit(0 if ours == sys.argv[3] + theirs else 1)
PY
      ok "generate --gguf: 12 greedy tokens = llama.cpp's continuation" || fail "generate --gguf differs from llama.cpp"
    # The folder itself (export --hf): the same architecture and vocabulary, read back to its probabilities.
    "$qforge" export --hf "$work/hf" --format gguf --type F32 -o "$work/hf.F32.gguf" > /dev/null
    "$python" "$peer/qwen2_gguf.py" check "$work/hf.F32.gguf" && passed=$((passed + 1))
    "$qforge" probs --hf "$work/hf" --tokens 3,17,0,42,42,7,63,5,29,11 > "$work/hf.json"
    "$qforge" probs --gguf "$work/hf.F32.gguf" --tokens 3,17,0,42,42,7,63,5,29,11 > "$work/hf_gguf.json"
    cmp -s "$work/hf.json" "$work/hf_gguf.json" && ok "export --hf qwen2 folder -> gguf: probs --gguf = probs --hf bit for bit" ||
      fail "export --hf qwen2 folder -> gguf: probs differ"
    # A plain Llama folder with the same byte-level tokenizer: arch llama (Q/K permuted, §5) with a gpt2
    # vocabulary, as Llama 3 files are; llama.cpp's probabilities = qforge's (F32 bounds).
    "$python" "$root/tests/exporters/hf_reference.py" write "$work/llama_hf" llama_gqa '{"vocab_size": 2001, "hidden_size": 64, "intermediate_size": 96}' > /dev/null
    cp "$work/tokenizer.json" "$work/llama_hf/tokenizer.json"
    "$qforge" export --hf "$work/llama_hf" --format gguf --type F32 -o "$work/llama.F32.gguf" > /dev/null
    "$peer/run.sh" probs.mjs probs "$work/llama.F32.gguf" 3,17,0,42,1999,7,2000,5,29,11 > "$work/llama_llama.json"
    "$qforge" probs --gguf "$work/llama.F32.gguf" --tokens 3,17,0,42,1999,7,2000,5,29,11 > "$work/llama_qforge.json"
    gap=$("$python" - "$peer" "$work" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from agreement import compare
arch = json.dumps(__import__("gguf").GGUFReader(f"{sys.argv[2]}/llama.F32.gguf").fields["general.architecture"].contents())
ours, theirs = (json.loads(open(f"{sys.argv[2]}/{n}.json").readline())["probs"] for n in ("llama_qforge", "llama_llama"))
print(f"{compare(ours, theirs)[0]:.3e} {arch}")
PY
)
    "$python" -c "import sys; sys.exit(0 if float('${gap%% *}') <= 1e-4 and '${gap#* }' == '\"llama\"' else 1)" &&
      ok "export --hf Llama folder with a byte-level tokenizer.json: arch ${gap#* }, gpt2 vocabulary, llama.cpp max |dp| ${gap%% *} (<=1e-04)" ||
      fail "Llama folder with a byte-level tokenizer.json: $gap"
    ;;
  quantize)
    "$llama_quantize" "$work/run.F32.gguf" "$work/lq.Q4_K_M.gguf" Q4_K_M 1 > "$work/lq.log" 2>&1 ||
      { tail -n 20 "$work/lq.log"; fail "llama-quantize refused qforge's qwen2 file"; }
    "$python" "$peer/agreement.py" --file "$qforge" "$peer/run.sh" "$work/run" "$work/lq.Q4_K_M.gguf" Q4_K_M "$work/text.txt"
    # Re-quantization (the 1-D q/k/v biases stay F32 in both): qforge's quantize-gguf = llama-quantize, byte for byte.
    same=""
    for type in Q4_K_M Q8_0 Q4_0 Q2_K Q3_K_M Q5_K_M Q6_K IQ4_NL; do
      [ "$type" = Q4_K_M ] || "$llama_quantize" "$work/run.F32.gguf" "$work/lq.$type.gguf" "$type" 1 > "$work/lq.log" 2>&1 ||
        { tail -n 20 "$work/lq.log"; fail "llama-quantize $type refused qforge's qwen2 file"; }
      "$qforge" quantize-gguf "$work/run.F32.gguf" "$work/ours.$type.gguf" "$type" > /dev/null
      cmp -s "$work/lq.$type.gguf" "$work/ours.$type.gguf" || fail "quantize-gguf $type differs from llama-quantize's file"
      same="$same $type"
    done
    ok "quantize-gguf of the qwen2 file = llama-quantize's, byte for byte:$same"
    f32=$("$qforge" eval --checkpoint "$work/run" --gguf "$work/run.F32.gguf" | grep -o 'val_loss[^,]*' | head -n 1)
    q4=$("$qforge" eval --checkpoint "$work/run" --gguf "$work/lq.Q4_K_M.gguf" | grep -o 'val_loss[^,]*' | head -n 1)
    "$python" - "$f32" "$q4" <<'PY' && ok "eval --gguf on llama-quantize's file: $q4 (F32 file $f32)" || fail "eval --gguf: $q4 vs $f32"
import re, sys
a, b = (float(re.findall(r"[-+0-9.e]+", s)[-1]) for s in sys.argv[1:])
sys.exit(0 if abs(a - b) < 0.1 and b == b else 1)
PY
    qlora_data "$work/lq.Q4_K_M.gguf"
    "$qforge" qlora --config "$work/qlora.pbtxt" --base "$work/lq.Q4_K_M.gguf" --base-format gguf --run-dir "$work/qlora" > "$work/qlora.log" 2>&1 ||
      { tail -n 5 "$work/qlora.log"; fail "qlora --base on llama-quantize's qwen2 file"; }
    ok "qlora --base llama-quantize's Q4_K_M qwen2 file, 3 steps: $(grep -o 'step 3[^|]*' "$work/qlora.log" | tail -n 1)"
    ;;
  lora)
    qlora_data "$work/run.F32.gguf"
    # The base re-packed as NF4 (the q/k/v biases stay float beside the packed weights).
    "$qforge" qlora --config "$work/qlora.pbtxt" --base "$work/run.F32.gguf" --base-format nf4 --run-dir "$work/lora_nf4" \
      > "$work/lora_nf4.log" 2>&1 || { tail -n 5 "$work/lora_nf4.log"; fail "qlora --base-format nf4 on the qwen2 file"; }
    ok "qlora --base qwen2 file --base-format nf4, 3 steps: $(grep -o 'step 3[^|]*' "$work/lora_nf4.log" | tail -n 1)"
    # A LoRA on the F32 file, exported as a GGUF adapter (general.architecture qwen2, no q/k permutation:
    # docs/gguf.md §10, §13), applied by llama.cpp: §10's F32 bounds (max |dp| <= 1e-4), and the adapter must
    # move the distributions at least 20 times that much (so a wrong row order could not pass).
    "$qforge" qlora --config "$work/qlora.pbtxt" --base "$work/run.F32.gguf" --base-format gguf --run-dir "$work/lora_f32" \
      --set trainer.steps=6 --set optimizer.lr=0.05 > "$work/lora_f32.log" 2>&1 || { tail -n 5 "$work/lora_f32.log"; fail "qlora on the F32 file"; }
    "$qforge" export --checkpoint "$work/lora_f32" --format gguf-lora -o "$work/adapter.gguf" > /dev/null
    seq="$("$python" -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["tokens"][:32])))' "$work/ids.json")"
    "$peer/run.sh" probs.mjs probs "$work/run.F32.gguf" "$seq" --lora "$work/adapter.gguf" > "$work/llama_lora.json"
    "$qforge" probs --gguf "$work/run.F32.gguf" --lora "$work/adapter.gguf" --tokens "$seq" > "$work/qforge_lora.json"
    "$qforge" probs --gguf "$work/run.F32.gguf" --tokens "$seq" > "$work/qforge_base.json"
    result=$("$python" - "$peer" "$work" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from agreement import compare
work = sys.argv[2]
ours, theirs, base = (json.loads(open(f"{work}/{n}.json").readline())["probs"] for n in ("qforge_lora", "llama_lora", "qforge_base"))
gap, _ = compare(ours, theirs)
effect, _ = compare(ours, base)
print(f"{gap:.3e} {effect:.3e}")
PY
)
    read -r gap effect <<< "$result"
    "$python" -c "import sys; sys.exit(0 if float('$gap') <= 1e-4 and float('$effect') >= 2e-3 else 1)" &&
      ok "gguf-lora adapter (arch qwen2) in llama.cpp on the F32 file: max |dp| $gap vs qforge (<=1e-04); the adapter moves p by $effect (>=2e-03)" ||
      fail "gguf-lora adapter (arch qwen2): max |dp| $gap vs qforge (<=1e-04), adapter effect $effect (>=2e-03)"
    ;;
  *) echo "qwen2_gguf.sh: unknown mode '$mode'"; exit 2 ;;
esac
echo "qwen2 gguf: $passed passed, 0 failed"
