#!/usr/bin/env bash
# Reader errors a user can act on (issue 19): each mode writes a real file (with qforge where qforge writes that
# kind; Fashion-MNIST's own IDX file; a token file in the layout qforge reads), damages it at a chosen byte
# (truncates it, rewrites a length or count field, breaks its JSON), runs the qforge command that reads it and
# prints what qforge printed, with the temporary folder's path removed, and exits with qforge's status.
# tests/CMakeLists.txt runs it through expect_error.sh with the exact message, byte offset included, that the
# mode must give (docs/reader-errors.md):
#   reader_errors.sh QFORGE PYTHON MODE   (MODE: see the case below)
set -uo pipefail
qforge=$1 python=$2 mode=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$work"
setup() { "$@" > setup.log 2>&1 || { echo "SETUP FAILED: $*"; cat setup.log; exit 99; }; }
# Overwrites `count` bytes at `offset` of `file` with the little-endian unsigned `value`.
poke() { setup "$python" -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(int(sys.argv[2])); f.write(int(sys.argv[4]).to_bytes(int(sys.argv[3]),'little'))" "$@"; }
tiny_run() {  # a 2-step char Llama run in run/ (checkpoint.bin)
  cat > run.pbtxt <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 2 eval_batches: 1 seed: 1 }
CONFIG
  setup "$qforge" train --config run.pbtxt --run-dir run
}
lora_run() {  # a 1-step LoRA run on run/ in lora/
  tiny_run
  setup "$qforge" qlora --base run --config "$root/examples/char_llama_qlora.pbtxt" --run-dir lora \
    --set trainer.steps=1 --set trainer.eval_batches=1 --set trainer.checkpoint_every=0 --set schedule.warmup_steps=0
}
case "$mode" in
  checkpoint_truncated)  # cut inside config_text (the run's config, which starts at byte 56 after the header)
    tiny_run; truncate -s 60 run/checkpoint.bin
    command=(eval --checkpoint run) ;;
  checkpoint_length)  # config_text's u64 length (byte 56) claims 1 TB
    tiny_run; poke run/checkpoint.bin 56 8 1000000000000
    command=(eval --checkpoint run) ;;
  idx_truncated)  # Fashion-MNIST's training labels cut to 1000 bytes (the header promises 60000 labels)
    setup mkdir fmnist
    for f in train-images-idx3-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do ln -s "/usr/share/datasets/fashion-mnist/$f.gz" fmnist/; done
    gzip -dc /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz | head -c 1000 > fmnist/train-labels-idx1-ubyte
    command=(train --config "$root/examples/fashion_mnist_mlp.pbtxt" --run-dir fm --set data.fashion_mnist.dir="$work/fmnist"
             --set trainer.steps=1) ;;
  idx_dims)  # the labels' dim (big-endian u32 at byte 4) says 60001
    setup mkdir fmnist
    for f in train-images-idx3-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do ln -s "/usr/share/datasets/fashion-mnist/$f.gz" fmnist/; done
    gzip -dc /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz > fmnist/train-labels-idx1-ubyte
    setup "$python" -c "f=open('fmnist/train-labels-idx1-ubyte','r+b'); f.seek(4); f.write((60001).to_bytes(4,'big'))"
    command=(train --config "$root/examples/fashion_mnist_mlp.pbtxt" --run-dir fm --set data.fashion_mnist.dir="$work/fmnist"
             --set trainer.steps=1) ;;
  tokens_llmc)  # an llm.c uint16 token file (header: magic 20240520, version 1, count) whose count (byte 8) says 5000
    setup "$python" -c "import struct; h=[20240520,1,3000]+[0]*253; open('ids.bin','wb').write(struct.pack('<256i',*h)+bytes(range(60))*100)"
    poke ids.bin 8 4 5000
    command=(train --config run.pbtxt --run-dir tk --set data.text.token_file="$work/ids.bin")
    cat > run.pbtxt <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { } batch_size: 4 }
trainer { steps: 1 eval_batches: 1 seed: 1 }
CONFIG
    ;;
  tokens_odd)  # a raw uint16 token file of an odd byte count: its last id (from byte 6000) is cut in half
    setup "$python" -c "open('ids.u16','wb').write(bytes(range(60))*100 + b'\x01')"
    cat > run.pbtxt <<CONFIG
model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 64 max_position_embeddings: 32 } }
data { text { } batch_size: 4 }
trainer { steps: 1 eval_batches: 1 seed: 1 }
CONFIG
    command=(train --config run.pbtxt --run-dir tk --set data.text.token_file="$work/ids.u16") ;;
  imatrix_dat)  # qforge imatrix's legacy .dat: the first entry's name length (byte 4) claims 2^30 bytes
    tiny_run; setup "$qforge" imatrix --checkpoint run --chunks 2 -o im.dat
    poke im.dat 4 4 1073741824
    command=(export --checkpoint run --type Q4_K_M --imatrix im.dat -o out.gguf) ;;
  imatrix_gguf)  # qforge imatrix's GGUF file cut to 100 bytes (inside its key-value section)
    tiny_run; setup "$qforge" imatrix --checkpoint run --chunks 2 -o im.gguf
    truncate -s 100 im.gguf
    command=(export --checkpoint run --type Q4_K_M --imatrix im.gguf -o out.gguf) ;;
  gguf_truncated)  # qforge export's GGUF cut to 1000 bytes
    tiny_run; setup "$qforge" export --checkpoint run --type Q8_0 -o m.gguf
    truncate -s 1000 m.gguf
    command=(probs --gguf m.gguf --tokens 1,2) ;;
  gguf_architecture)  # general.architecture (the first pair, at byte 24) rewritten from "llama" to "grok1"
    tiny_run; setup "$qforge" export --checkpoint run --type F32 -o m.gguf
    setup "$python" -c "p='m.gguf'; b=open(p,'rb').read(); i=b.index(b'llama', 24); open(p,'wb').write(b[:i]+b'grok1'+b[i+5:])"
    command=(probs --gguf m.gguf --tokens 1,2) ;;
  peft_json)  # a PEFT adapter's adapter_config.json with its closing brace removed
    lora_run; setup "$qforge" export --checkpoint lora --format peft -o peft
    setup "$python" -c "p='peft/adapter_config.json'; t=open(p).read().rstrip(); open(p,'w').write(t[:-1])"
    command=(probs --checkpoint run --lora peft --tokens 1,2) ;;
  peft_safetensors)  # the adapter's safetensors header length (u64 at byte 0) claims 2^40 bytes
    lora_run; setup "$qforge" export --checkpoint lora --format peft -o peft
    poke peft/adapter_model.safetensors 0 8 1099511627776
    command=(probs --checkpoint run --lora peft --tokens 1,2) ;;
  gguf_lora)  # a GGUF LoRA adapter whose tensor count (u64 at byte 8) claims 2^40 tensors
    lora_run; setup "$qforge" export --checkpoint lora --format gguf-lora -o lora.gguf
    poke lora.gguf 8 8 1099511627776
    command=(probs --checkpoint run --lora lora.gguf --tokens 1,2) ;;
  hf_config)  # an exported HF folder whose config.json has a stray comma after its first key
    tiny_run; setup "$qforge" export --checkpoint run --format hf -o hf
    setup "$python" -c "p='hf/config.json'; t=open(p).read(); i=t.index(','); open(p,'w').write(t[:i]+',,'+t[i+1:])"
    command=(probs --hf hf --tokens 1,2) ;;
  hf_safetensors)  # the exported model.safetensors cut 4 bytes short: its last tensor's data_offsets pass the end
    tiny_run; setup "$qforge" export --checkpoint run --format hf -o hf
    truncate -s $(( $(stat -c %s hf/model.safetensors) - 4 )) hf/model.safetensors
    command=(probs --hf hf --tokens 1,2) ;;
  tokenizer_json)  # the exported tokenizer.json cut after 200 bytes
    tiny_run; setup "$qforge" export --checkpoint run --format hf -o hf
    truncate -s 200 hf/tokenizer.json
    command=(tokenize --tokenizer hf/tokenizer.json --text ab) ;;
  *) echo "unknown mode $mode"; exit 99 ;;
esac
"$qforge" "${command[@]}" > out.log 2>&1
status=$?
sed "s|$work/||g" out.log
exit $status
