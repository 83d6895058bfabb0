#!/usr/bin/env bash
# Rewrites the fuzz seed corpora in tests/corpus/<target>/ (committed; fuzz/CMakeLists.txt):
#  - the small files qforge's writers make (fuzz/make_seeds.cpp, built as qforge_fuzz_seeds);
#  - checkpoints that `qforge train` writes for tiny runs (float, QAT, resumed with a token file);
#  - run configs: the examples' and the tiny runs' own;
#  - the SentencePiece-style tokenizer.json of the CLI tests.
# Usage: fuzz/make_seeds.sh BUILD_DIR (a normal build: qforge and qforge_fuzz_seeds). Deterministic
# except for the checkpoints' run times; the corpora stay far below 2 MB in all.
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=$root/tests/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

for target in gguf gguf_llama gguf_lora safetensors hf_config hf_model tokenizer_json peft_adapter checkpoint \
              run_config idx token_file imatrix_gguf imatrix_dat; do
  rm -rf "${corpus:?}/$target"
done
"$build/fuzz/qforge_fuzz_seeds" "$corpus"
cp "$root/tests/cli/tiny_tokenizer.json" "$corpus/tokenizer_json/sentencepiece_cli.json"

# A corpus of 26 distinct characters keeps the char vocabulary, and so the checkpoints, small.
printf 'the quick brown fox jumps over the lazy dog.\nhow vexingly quick daft zebras jump!\n%.0s' {1..8} > "$work/corpus.txt"
tiny_model='model { llama { hidden_size: 4 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                           intermediate_size: 8 max_position_embeddings: 16 } }'
cat > "$work/float.pbtxt" <<CONFIG
$tiny_model
data { text { corpus: "$work/corpus.txt" } batch_size: 2 }
optimizer { name: "adamw" lr: 0.01 }
trainer { steps: 2 eval_batches: 1 log_every: 1 seed: 1 }
CONFIG
cat > "$work/qat.pbtxt" <<CONFIG
$tiny_model
data { text { corpus: "$work/corpus.txt" } batch_size: 2 }
optimizer { name: "sgd" lr: 0.01 momentum: 0.9 }
quantization { rules { pattern: "*" weight { scheme: "int4:channel:lsq" } input { scheme: "int8:tensor:asym:ema" } } }
trainer { steps: 2 eval_batches: 1 log_every: 1 seed: 2 }
CONFIG
mkdir -p "$corpus/checkpoint" "$corpus/run_config"
for run in float qat; do
  "$build/cli/qforge" train --config "$work/$run.pbtxt" --run-dir "$work/$run" > /dev/null
  cp "$work/$run/checkpoint.bin" "$corpus/checkpoint/$run.bin"
  sed "s|$work/||" "$work/$run.pbtxt" > "$corpus/run_config/tiny_$run.pbtxt"
done
for example in char_llama_fortunes_qat char_llama_gguf_qat char_llama_qlora fashion_mnist_cnn fashion_mnist_mlp_qat; do
  cp "$root/examples/$example.pbtxt" "$corpus/run_config/"
done
du -sh "$corpus"
