# `qforge export --format hf --quant NAME` (docs/hf.md §11) read back by `qforge probs --hf`, the files dequantized
# by tests/exporters/hf_quant_folder_check.py (json + struct + numpy with the published formulas, not qforge's C++).
# For every export: the numpy-dequantized packed Linears equal the run's own weights (its plain F32 export) bit for
# bit when the run's scales are what the file stores (RTN / QAT with scale_fp16, nf4, fp8 and int8 per channel with
# F32 scales), else within the F16 rounding of the scales, |dW| <= 2^-11 |W| (GPTQ and AWQ keep FP32 scales), within
# float32 rounding (bnb-int8: SCB = scale * 127, dequantized CB * SCB / 127) or within fp16 statistics (spqr); the
# float tensors are the run's; `probs --hf` on the folder equals `probs --hf` on numpy's F32 folder bit for bit, and
# the run's `probs` bit for bit (exact) or within 1e-5 (f16, f32) or the measured SpQR bound. A run with input
# quantizers (llm_int8, smoothquant, fp8 inputs) is compared with its F32 export (the same weights, float inputs:
# `--hf` does not apply a config's activation quantization), its difference to the run printed.
#   hf_quant_export.sh QFORGE PYTHON gptq|awq|w4a16|bnb-nf4   -> "<mode> ok: ..."
#   hf_quant_export.sh QFORGE PYTHON bnb-fp4                  -> "bnb-fp4 ok: ..." the float run quantized at export: numpy's
#                                                                bitsandbytes fp4 quantization of the run's F32 weights gives
#                                                                the folder byte for byte; QLoRA bnb_fp4 bases; refusals
#   hf_quant_export.sh QFORGE PYTHON bnb-int8|fp8-e4m3|w8a8-int8|spqr -> "<mode> ok: ..."
#   hf_quant_export.sh QFORGE PYTHON qlora                    -> "qlora ok: ..." a quantized folder as `qlora --base` keeps
#                                                                its codes: the QLoRA run's export is the folder's file
#                                                                byte for byte; folder + the run's adapter = the run
#   hf_quant_export.sh QFORGE PYTHON source                   -> "source ok: ..." export --hf DIR: a folder as the source
#   hf_quant_export.sh QFORGE PYTHON refuse                   -> "refuse ok: ..." (each refusal names layer and scheme)
set -euo pipefail
qforge=$1 python=$2 mode=$3
here=$(cd "$(dirname "$0")/.." && pwd)
check_py="$here/exporters/hf_quant_folder_check.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
tokens=3,17,0,42,42,7,63,5,29,11
line=""
fail() { echo "FAILED: $*"; exit 1; }
maxdiff() { "$python" "$here/exporters/hf_export_check.py" maxdiff "$1" "$2"; }

# A char-level Llama whose every projection has in and out multiples of 32 (all layouts' word sizes); $1 adds a
# quantization section (QAT).
train() {
  cat > "$work/$1.pbtxt" <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 20 log_every: 10 eval_batches: 2 seed: 1 }
${2:-}
CONFIG
  "$qforge" train --config "$work/$1.pbtxt" --run-dir "$work/$1" > /dev/null
}
ptq() {  # ptq NAME METHOD SCHEME [ARGS...]: post-training quantization of the float run, embeddings and lm_head float
  "$qforge" quantize --checkpoint "$work/float" --scheme "$3" --keep-float lm_head --keep-float model.embed_tokens \
    --method "$2" --calibration-batches 2 -o "$work/$1" "${@:4}" > /dev/null
}

# exported RUN QUANT exact|f16|f32|fp16|float [inputs]: the checks of the file comment on RUN's --quant QUANT folder;
# "inputs": RUN has input quantizers, so the probabilities are compared with its F32 export's.
exported() {
  local run=$1 quant=$2 agree=$3 dir="$work/$1.$2" ref="$work/$1.json"
  "$qforge" probs --checkpoint "$work/$run" --tokens "$tokens" > "$work/$run.json"
  "$qforge" export --checkpoint "$work/$run" --format hf -o "$work/$run.f32" > /dev/null 2>&1
  "$qforge" export --checkpoint "$work/$run" --format hf --quant "$quant" -o "$dir" > "$dir.out"
  "$qforge" probs --hf "$dir" --tokens "$tokens" > "$dir.json"
  "$python" "$check_py" dequant "$dir" "$work/$run.f32" "$agree" "$dir.numpy" > "$dir.check" || { cat "$dir.check"; exit 1; }
  "$qforge" probs --hf "$dir.numpy" --tokens "$tokens" > "$dir.numpy.json"
  cmp -s "$dir.numpy.json" "$dir.json" || fail "$run $quant: --hf differs from numpy's dequantized folder by $(maxdiff "$dir.numpy.json" "$dir.json")"
  if [ "${4:-}" = inputs ]; then
    "$qforge" probs --hf "$work/$run.f32" --tokens "$tokens" > "$work/$run.f32.json"
    ref="$work/$run.f32.json"
  fi
  local diff
  diff=$(maxdiff "$ref" "$dir.json")
  case "$agree" in
    exact) cmp -s "$ref" "$dir.json" || fail "$run $quant: probs differ from the run's by $diff" ;;
    f16|f32) "$python" -c "import sys; sys.exit(float(sys.argv[1]) > 1e-5)" "$diff" || fail "$run $quant: probs differ by $diff > 1e-5" ;;
    fp16) "$python" -c "import sys; sys.exit(float(sys.argv[1]) > 1e-3)" "$diff" || fail "$run $quant: probs differ by $diff > 1e-3" ;;
  esac
  local vs="the run"
  [ "$agree" = float ] && vs="the float run (the 4-bit error)"
  [ "${4:-}" = inputs ] && vs="the run's F32 export $diff, vs the run with its input quantizers" && diff=$(maxdiff "$work/$run.json" "$dir.json")
  line="$line; $run: $(sed "s/dequant ok: //; s/ dequantized by the published formula//" "$dir.check"), probs vs $vs $diff"
}
refused() {  # refused RUN QUANT MESSAGE...: the export fails naming each MESSAGE
  if "$qforge" export --checkpoint "$work/$1" --format hf --quant "$2" -o "$work/refused" > "$work/refused.out" 2>&1; then
    fail "--quant $2 of $1 was accepted"
  fi
  for m in "${@:3}"; do grep -qF -- "$m" "$work/refused.out" || fail "--quant $2 of $1: no '$m' in: $(cat "$work/refused.out")"; done
  line="$line; $1 $2: $(sed 's/^qforge: error: //' "$work/refused.out" | cut -c1-110)..."
}
config_value() { "$python" -c "import json, sys; print(json.load(open(sys.argv[1]))['quantization_config'][sys.argv[2]])" "$1/config.json" "$2"; }

train float
case "$mode" in
  gptq)
    ptq rtn rtn int4:g32:scale_fp16 && exported rtn gptq exact
    # Sharded: the packed tensors go through the same greedy split and index (docs/hf.md §8).
    "$qforge" export --checkpoint "$work/rtn" --format hf --quant gptq --max-shard-size 20000 -o "$work/sharded" > /dev/null
    [ -f "$work/sharded/model.safetensors.index.json" ] || fail "--max-shard-size 20000 wrote one file"
    "$qforge" probs --hf "$work/sharded" --tokens "$tokens" | cmp -s - "$work/rtn.json" || fail "the sharded gptq folder differs from the run"
    line="$line; sharded into $(ls "$work/sharded" | grep -c 'of-') files: probs = the run's"
    ptq gptq gptq int4:g32 && exported gptq gptq f16
    ptq dynamic gptq:act_order,dynamic_groups int4:g32 && exported dynamic gptq f16
    [ "$(config_value "$work/dynamic.gptq" desc_act)/$(config_value "$work/dynamic.gptq" sym)" = "True/True" ] ||
      fail "act-order with dynamic groups is not desc_act true, sym true"
    ;;
  awq)
    ptq awq awq int4:g32:asym && exported awq awq f16
    train qat 'quantization { rules { pattern: "lm_head" skip: true } rules { pattern: "model.embed_tokens" skip: true }
               rules { pattern: "*" weight { scheme: "int4:g32:asym:scale_fp16:lsq" } } }'
    exported qat awq exact
    ;;
  w4a16)
    train qat 'quantization { rules { pattern: "lm_head" skip: true } rules { pattern: "model.embed_tokens" skip: true }
               rules { pattern: "*" weight { scheme: "int4:g32:asym:scale_fp16:lsq" } } }'
    exported qat w4a16 exact
    ptq int8 rtn int8:channel:scale_fp16 && exported int8 w4a16 exact
    [ "$(config_value "$work/int8.w4a16" config_groups | grep -o "'strategy': '[a-z]*'")" = "'strategy': 'channel'" ] ||
      fail "int8:channel is not strategy channel"
    ;;
  bnb-nf4)
    ptq nf4 rtn nf4:g32 && exported nf4 bnb-nf4 exact
    exported float bnb-nf4 float
    # A QLoRA run on the float run: its folder is the NF4 base it trained on, the same bytes as the float run's
    # export (both QLoRA's packing), and with its adapter (--format peft) gives the run's probabilities.
    cat > "$work/lora.pbtxt" <<CONFIG
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 2 log_every: 1 eval_batches: 1 seed: 1 }
CONFIG
    "$qforge" qlora --base "$work/float" --config "$work/lora.pbtxt" --run-dir "$work/qlora" > /dev/null
    "$qforge" export --checkpoint "$work/qlora" --format hf --quant bnb-nf4 -o "$work/qlora.bnb" > "$work/qlora.out"
    grep -q "QLoRA run's NF4 base" "$work/qlora.out" || fail "the QLoRA export does not say its source: $(cat "$work/qlora.out")"
    cmp -s "$work/qlora.bnb/model.safetensors" "$work/float.bnb-nf4/model.safetensors" ||
      fail "the QLoRA base's bnb-nf4 file differs from the float run's"
    "$qforge" export --checkpoint "$work/qlora" --format peft -o "$work/qlora.peft" > /dev/null
    "$qforge" probs --checkpoint "$work/qlora" --tokens "$tokens" > "$work/qlora.json"
    "$qforge" probs --hf "$work/qlora.bnb" --lora "$work/qlora.peft" --tokens "$tokens" > "$work/qlora.bnb.json"
    diff=$(maxdiff "$work/qlora.json" "$work/qlora.bnb.json")
    "$python" -c "import sys; sys.exit(float(sys.argv[1]) > 1e-6)" "$diff" || fail "QLoRA base + adapter differs by $diff"
    line="$line; qlora: base = the float run's export byte for byte, with its adapter vs the run $diff"
    ;;
  bnb-fp4)
    exported float bnb-fp4 float
    "$python" "$check_py" requant-fp4 "$work/float.bnb-fp4" "$work/float.f32" > "$work/requant.out" || { cat "$work/requant.out"; exit 1; }
    [ "$(config_value "$work/float.bnb-fp4" bnb_4bit_quant_type)" = fp4 ] || fail "bnb-fp4 is not bnb_4bit_quant_type fp4"
    line="$line; $(sed 's/ok: //' "$work/requant.out")"
    cat > "$work/lora.pbtxt" <<CONFIG
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 2 log_every: 1 eval_batches: 1 seed: 1 }
CONFIG
    { echo "model { llama { max_position_embeddings: 32 } }"; cat "$work/lora.pbtxt"; } > "$work/lora_hf.pbtxt"
    # A QLoRA run on the float run with base_format bnb_fp4 trains on the blocks the export writes: the same file.
    "$qforge" qlora --base "$work/float" --base-format bnb_fp4 --config "$work/lora.pbtxt" --run-dir "$work/bq" > /dev/null
    "$qforge" export --checkpoint "$work/bq" --format hf --quant bnb-fp4 -o "$work/bq.bnb" > "$work/bq.out"
    grep -q "QLoRA run's bnb_fp4 base" "$work/bq.out" || fail "the QLoRA export does not say its source: $(cat "$work/bq.out")"
    cmp -s "$work/bq.bnb/model.safetensors" "$work/float.bnb-fp4/model.safetensors" ||
      fail "the bnb_fp4 QLoRA base's bnb-fp4 file differs from the float run's"
    # The folder as a QLoRA base keeps its codes (base_format hf): exported again, the same file; with the
    # run's adapter it gives the run's probabilities.
    "$qforge" qlora --base "$work/float.bnb-fp4" --config "$work/lora_hf.pbtxt" --run-dir "$work/fq" > /dev/null
    "$qforge" export --checkpoint "$work/fq" --format hf --quant bnb-fp4 -o "$work/fq.bnb" > /dev/null
    for f in model.safetensors config.json; do
      cmp -s "$work/float.bnb-fp4/$f" "$work/fq.bnb/$f" || fail "bnb-fp4 -> QLoRA -> bnb-fp4: $f differs"
    done
    "$qforge" export --checkpoint "$work/fq" --format peft -o "$work/fq.peft" > /dev/null
    "$qforge" probs --checkpoint "$work/fq" --tokens "$tokens" > "$work/fq.json"
    "$qforge" probs --hf "$work/float.bnb-fp4" --lora "$work/fq.peft" --tokens "$tokens" > "$work/fq.folder.json"
    diff=$(maxdiff "$work/fq.json" "$work/fq.folder.json")
    "$python" -c "import sys; sys.exit(float(sys.argv[1]) > 1e-6)" "$diff" || fail "folder + adapter differs from the run by $diff"
    line="$line; bnb_fp4 QLoRA base = the float run's file byte for byte; folder -> QLoRA -> bnb-fp4 the same file, with its adapter vs the run $diff"
    # Codes that are not bitsandbytes' fp4: an fp4_e2m1 scheme, a QLoRA base in E2M1 / 6 with its subnormal, NF4.
    ptq e2m1 rtn fp4_e2m1:g32
    refused e2m1 bnb-fp4 "model.layers.0.self_attn.q_proj.weight (fp4_e2m1" "E2M1's subnormal" "bnb-fp4 holds"
    "$qforge" qlora --base "$work/float" --base-format fp4 --config "$work/lora.pbtxt" --run-dir "$work/e2m1q" > /dev/null
    refused e2m1q bnb-fp4 "model.layers.0.self_attn.q_proj: FP4 element" "subnormal"
    ptq nf4 rtn nf4:g32
    refused nf4 bnb-fp4 "model.layers.0.self_attn.q_proj.weight (nf4" "has no bitsandbytes FP4 codes"
    refused fq bnb-nf4 "model.layers.0.self_attn.q_proj.weight: the QLoRA base is bnb_fp4, not nf4"
    # The reader tells the 4-bit rows apart by bnb_4bit_quant_type: a value no row reads is refused naming the key.
    cp -r "$work/float.bnb-fp4" "$work/int4"
    "$python" - "$work/int4/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["quantization_config"]["bnb_4bit_quant_type"] = "int4"; json.dump(c, open(sys.argv[1], "w"))
PY
    if "$qforge" probs --hf "$work/int4" --tokens "$tokens" > "$work/int4.out" 2>&1; then fail "bnb_4bit_quant_type int4 was read"; fi
    grep -qF "key 'bnb_4bit_quant_type': \"int4\" is not read for quant_method \"bitsandbytes\"" "$work/int4.out" ||
      fail "int4: $(cat "$work/int4.out")"
    line="$line; int4 folder: $(sed 's/^qforge: error: //' "$work/int4.out" | cut -c1-110)..."
    ;;
  bnb-int8)
    ptq int8 rtn int8:channel && exported int8 bnb-int8 f32
    ptq llm llm_int8:threshold=4 int8:channel && exported llm bnb-int8 f32 inputs
    [ "$(config_value "$work/llm.bnb-int8" llm_int8_threshold)" = 4.0 ] || fail "llm_int8 threshold 4 is not llm_int8_threshold 4.0"
    ;;
  fp8-e4m3)
    ptq fp8 rtn fp8_e4m3:channel && exported fp8 fp8-e4m3 exact
    ptq fp8t rtn fp8_e4m3:tensor --input-scheme fp8_e4m3:token && exported fp8t fp8-e4m3 exact inputs
    inputs=$("$python" -c "import json, sys; a = json.load(open(sys.argv[1]))['quantization_config']['config_groups']['group_0']['input_activations']; print(a['type'], a['strategy'], a['dynamic'])" "$work/fp8t.fp8-e4m3/config.json")
    [ "$inputs" = "float token True" ] || fail "fp8_e4m3:token inputs are input_activations $inputs, not float token dynamic"
    grep -q "input_quantizer.*is not exported" "$work/fp8t.fp8-e4m3.out" && fail "fp8-e4m3 says the input quantizers are not exported"
    ;;
  w8a8-int8)
    ptq asym rtn int8:channel:asym && exported asym w8a8-int8 exact
    ptq smooth smoothquant int8:channel --input-scheme int8:token && exported smooth w8a8-int8 exact inputs
    inputs=$("$python" -c "import json, sys; a = json.load(open(sys.argv[1]))['quantization_config']['config_groups']['group_0']['input_activations']; print(a['type'], a['strategy'], a['dynamic'])" "$work/smooth.w8a8-int8/config.json")
    [ "$inputs" = "int token True" ] || fail "int8:token inputs are input_activations $inputs, not int token dynamic"
    ;;
  spqr)
    ptq spqr spqr int3 && exported spqr spqr fp16
    grep -q "SpQR's statistics are fp16" "$work/spqr.spqr.out" || fail "spqr: no note of the fp16 statistics: $(cat "$work/spqr.spqr.out")"
    ;;
  qlora)
    cat > "$work/lora.pbtxt" <<CONFIG
model { llama { max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 2 log_every: 1 eval_batches: 1 seed: 1 }
CONFIG
    ptq dynamic gptq:act_order,dynamic_groups int4:g32
    ptq awq awq int4:g32:asym
    ptq nf4 rtn nf4:g32
    for pair in dynamic:gptq awq:awq awq:w4a16 nf4:bnb-nf4; do
      run=${pair%%:*} quant=${pair#*:} dir="$work/${pair/:/.}"
      "$qforge" export --checkpoint "$work/$run" --format hf --quant "$quant" -o "$dir" > /dev/null
      "$qforge" qlora --base "$dir" --config "$work/lora.pbtxt" --run-dir "$dir.qlora" > /dev/null
      "$qforge" export --checkpoint "$dir.qlora" --format hf --quant "$quant" -o "$dir.again" > "$dir.again.out"
      grep -q "the LoRA run's packed base\|QLoRA run's NF4 base" "$dir.again.out" || fail "$quant: $(cat "$dir.again.out")"
      for f in model.safetensors config.json; do
        cmp -s "$dir/$f" "$dir.again/$f" || fail "$quant: the QLoRA run's $f differs from its base folder's"
      done
      line="$line; $quant base (${run}) -> QLoRA -> $quant: the same file byte for byte"
    done
    "$qforge" export --checkpoint "$work/dynamic.gptq.qlora" --format peft -o "$work/peft" > /dev/null
    "$qforge" probs --checkpoint "$work/dynamic.gptq.qlora" --tokens "$tokens" > "$work/qlora.json"
    "$qforge" probs --hf "$work/dynamic.gptq" --lora "$work/peft" --tokens "$tokens" > "$work/folder_lora.json"
    # Folder + adapter against the run: measured max abs 2.8e-9 (the same weights, another summation order), bound
    # 2e-8. The adapter's own effect (folder + adapter vs the folder alone, measured 3.5e-4 after 2 steps from B = 0)
    # must be at least 1000 x that bound, else a dropped adapter would pass (issue 19).
    diff=$(maxdiff "$work/qlora.json" "$work/folder_lora.json")
    "$python" -c "import sys; sys.exit(float(sys.argv[1]) > 2e-8)" "$diff" || fail "folder + adapter differs from the run by $diff"
    "$qforge" probs --hf "$work/dynamic.gptq" --tokens "$tokens" > "$work/folder.json"
    effect=$(maxdiff "$work/folder.json" "$work/folder_lora.json")
    "$python" -c "import sys; sys.exit(float(sys.argv[1]) < 2e-5)" "$effect" || fail "the adapter moves the folder by $effect only"
    line="$line; gptq act-order folder + the run's adapter vs the run $diff (the adapter's effect $effect)"
    ;;
  source)
    # export --hf DIR (docs/hf.md §13): a folder as the source. A GPTQ act-order folder re-exported as gptq keeps its
    # codes (the same files byte for byte); as F32 it gives the folder's probabilities bit for bit; a float folder
    # quantized to bnb-nf4 at export is the run's own bnb-nf4 export byte for byte.
    ptq dynamic gptq:act_order,dynamic_groups int4:g32
    "$qforge" export --checkpoint "$work/dynamic" --format hf --quant gptq -o "$work/a" > /dev/null
    "$qforge" export --hf "$work/a" --format hf --quant gptq -o "$work/b" > "$work/b.out"
    for f in model.safetensors config.json generation_config.json tokenizer.json tokenizer_config.json; do
      cmp -s "$work/a/$f" "$work/b/$f" || fail "gptq folder -> export --hf --quant gptq: $f differs"
    done
    "$qforge" export --hf "$work/a" --format hf -o "$work/c" > /dev/null
    "$qforge" probs --hf "$work/a" --tokens "$tokens" > "$work/a.json"
    "$qforge" probs --hf "$work/c" --tokens "$tokens" > "$work/c.json"
    cmp -s "$work/a.json" "$work/c.json" || fail "the F32 re-export differs from the gptq folder by $(maxdiff "$work/a.json" "$work/c.json")"
    "$qforge" export --checkpoint "$work/float" --format hf -o "$work/f32" > /dev/null
    "$qforge" export --hf "$work/f32" --format hf --quant bnb-nf4 -o "$work/d" > /dev/null
    "$qforge" export --checkpoint "$work/float" --format hf --quant bnb-nf4 -o "$work/e" > /dev/null
    cmp -s "$work/d/model.safetensors" "$work/e/model.safetensors" || fail "float folder -> bnb-nf4 differs from the run's bnb-nf4"
    line="$line; gptq act-order folder -> gptq: the same 5 files byte for byte; -> F32: probs bit-exact; F32 folder -> bnb-nf4 = the run's bnb-nf4 file"
    refused_source() {  # refused_source MESSAGE ARGS...: export ARGS fails naming MESSAGE
      if "$qforge" export "${@:2}" -o "$work/refused" > "$work/refused.out" 2>&1; then fail "export ${*:2} was accepted"; fi
      grep -qF -- "$1" "$work/refused.out" || fail "export ${*:2}: no '$1' in: $(cat "$work/refused.out")"
      line="$line; $(head -1 "$work/refused.out" | sed 's/^qforge: error: //' | cut -c1-90)..."
    }
    refused_source "exactly one" --format hf
    refused_source "excludes" --hf "$work/a" --checkpoint "$work/float" --format hf
    refused_source "a Hugging Face folder is a model" --hf "$work/a" --format peft
    refused_source "a tokenizer.json" --hf "$work/a" --format gguf
    ;;
  refuse)
    ptq asym rtn int4:g32:asym
    refused asym gptq "model.layers.0.self_attn.q_proj.weight (int4 asym g32" "zero points (asymmetric)"
    ptq int3 rtn int3:g32
    refused int3 awq "model.layers.0.self_attn.q_proj.weight (int3 sym g32" "3-bit codes"
    refused int3 bnb-nf4 "(int3 sym g32" "has no NF4 codes"
    refused float gptq "no Linear weight of the run has integer codes"
    "$qforge" quantize --checkpoint "$work/float" --scheme int4:g32 --keep-float lm_head --keep-float '*.down_proj' \
      --method rtn -o "$work/kept" > /dev/null
    refused kept gptq "model.layers.0.mlp.down_proj is float" "converts every decoder Linear"
    train mixed 'quantization { rules { pattern: "lm_head" skip: true } rules { pattern: "*.mlp.*" weight { scheme: "int8:g32" } }
                 rules { pattern: "*" weight { scheme: "int4:g32" } } }'
    refused mixed w4a16 "(int8 sym g32" "(int4 sym g32" "one quantization_config holds one scheme"
    refused asym nf8 "--quant 'nf8' is not one of: gptq:" "bnb-nf4:" "bnb-int8:" "fp8-e4m3:" "w8a8-int8:" "spqr:"
    refused int3 bnb-int8 "model.layers.0.self_attn.q_proj.weight" "int3 sym g32" "bnb-int8 holds"
    refused int3 fp8-e4m3 "model.layers.0.self_attn.q_proj.weight" "int3 sym g32" "fp8-e4m3 holds"
    refused int3 spqr "model.layers.0.self_attn.q_proj.weight (int3 sym g32" "is not what it holds; spqr holds"
    ptq int8g rtn int8:g32
    refused int8g w8a8-int8 "model.layers.0.mlp.down_proj.weight (int8 sym g32" "groups of 32 columns"
    ptq int8tensor rtn int8:channel --input-scheme int8:tensor
    refused int8tensor w8a8-int8 "model.layers.0.mlp.down_proj.input_quantizer (int8 sym per-tensor" "per token, dynamic"
    if "$qforge" export --checkpoint "$work/float" --format gguf --quant gptq -o "$work/x.gguf" > "$work/gguf.out" 2>&1; then
      fail "--quant with --format gguf was accepted"
    fi
    grep -q "apply to --format hf only" "$work/gguf.out" || fail "gguf --quant: $(cat "$work/gguf.out")"
    # A folder whose quantization_config no row reads is refused naming the key.
    "$qforge" export --checkpoint "$work/asym" --format hf --quant awq -o "$work/hqq" > /dev/null
    "$python" - "$work/hqq/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["quantization_config"]["quant_method"] = "hqq"; json.dump(c, open(sys.argv[1], "w"))
PY
    if "$qforge" probs --hf "$work/hqq" --tokens "$tokens" > "$work/hqq.out" 2>&1; then fail "quant_method hqq was read"; fi
    grep -q "key 'quantization_config': key 'quant_method': \"hqq\" is not read (gptq, awq, compressed-tensors, bitsandbytes, spqr)" "$work/hqq.out" ||
      fail "hqq: $(cat "$work/hqq.out")"
    line="$line; hqq folder: $(sed 's/^qforge: error: //' "$work/hqq.out" | cut -c1-110)..."
    # compressed-tensors rows are told apart by "format": one no row reads is refused naming the key.
    "$qforge" export --checkpoint "$work/int8g" --format hf --quant w4a16 -o "$work/marlin" > /dev/null
    "$python" - "$work/marlin/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["quantization_config"]["format"] = "marlin-24"; json.dump(c, open(sys.argv[1], "w"))
PY
    if "$qforge" probs --hf "$work/marlin" --tokens "$tokens" > "$work/marlin.out" 2>&1; then fail "format marlin-24 was read"; fi
    grep -q "key 'format': \"marlin-24\" is not read for quant_method \"compressed-tensors\" (format pack-quantized: w4a16, format float-quantized: fp8-e4m3, format int-quantized: w8a8-int8)" "$work/marlin.out" ||
      fail "marlin-24: $(cat "$work/marlin.out")"
    ;;
  *) fail "unknown mode $mode" ;;
esac
echo "$mode ok${line/;/:}"
