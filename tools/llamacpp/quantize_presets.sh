#!/usr/bin/env bash
# Every file type of qforge's table (exporters/gguf/llama_type_mix.cpp) against llama.cpp's own
# llama-quantize, live (ctest peer.llama_quantize_presets, label llamacpp): three small random F32 llamas
# (bench/make_random_llama_gguf), each quantized by both tools with 1 thread, without and with an
# importance matrix; the two files must be identical byte for byte (metadata, tensor order, types and
# blocks). Where llama-quantize refuses (without an imatrix: Q2_K_S, and the file types with IQ1_S, IQ1_M,
# IQ2_XXS, IQ2_XS, IQ2_S or IQ3_XXS tensors) qforge must refuse too, naming the type and the tensor
# llama-quantize names. Prints one line per file:
#   preset Q3_K_M model l16 imatrix 1: identical=1 qforge_bytes=... llama_bytes=...
# and on a difference the tensors whose types differ. Ends with "presets: N identical, M differ".
#   usage: quantize_presets.sh QFORGE MAKE_RANDOM_LLAMA_GGUF LLAMA_QUANTIZE [PRESET...]
# llama-quantize is built by `make bench` (bench/gguf_quantize.py) into BUILD/llamacpp-tools; exit 77
# (ctest: skipped) when it is not there. With QFORGE_PRESET_TYPES_OUT=FILE, appends llama-quantize's type
# of every quantizable tensor (loader order) per file to FILE (tests/golden/llama_quantize/make.sh), or
# "PRESET MODEL 0 refused TENSOR" where llama-quantize refuses.
set -euo pipefail
qforge="$(realpath "$1")"
make_model="$(realpath "$2")"
quantize="$3"
shift 3
if [ ! -x "$quantize" ]; then echo "skipped: no $quantize (make bench builds it)"; exit 77; fi
quantize="$(realpath "$quantize")"
presets=("$@")
[ ${#presets[@]} -gt 0 ] || read -r -a presets <<< "$("$qforge" quantize-gguf --help | sed -n 's/.*File type: //p' | tr -d ',')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# name layers hidden ffn heads kv_heads chars seed tied
#   l16: GQA 4, untied, every row 256: the layer-position rules (n/8 = 2, n/16 = 1, more_bits of 16)
#   l8:  no GQA, tied, ffn_down rows of 96: the 256 -> 32-block fallbacks, the tied output rule
#   d64: rows of 64 and ffn_down rows of 48: output in Q8_0, F16 where 32 does not divide
models=("l16 16 256 256 4 1 8 11 0" "l8 8 256 96 4 4 8 12 1" "d64 2 64 48 2 1 8 13 0")
for m in "${models[@]}"; do
  read -r name layers hidden ffn heads kv chars seed tied <<< "$m"
  "$make_model" "$name.gguf" "$layers" "$hidden" "$ffn" "$heads" "$kv" "$chars" "$seed" "$tied" >/dev/null
  # A legacy imatrix covering every block weight: values 10^U(-3, 1), ncall 1 (importance = value).
  /usr/bin/python3 - "$name.dat" "$layers" "$hidden" "$ffn" "$seed" <<'PY'
import random, struct, sys
path, layers, hidden, ffn, seed = sys.argv[1], *map(int, sys.argv[2:])
rng = random.Random(seed)
entries = [(f"blk.{i}.{t}.weight", ffn if t == "ffn_down" else hidden) for i in range(layers)
           for t in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")]
with open(path, "wb") as f:
    f.write(struct.pack("<i", len(entries)))
    for name, n in entries:
        f.write(struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", 1, n))
        f.write(struct.pack("<%df" % n, *[10 ** rng.uniform(-3, 1) for _ in range(n)]))
    f.write(struct.pack("<ii", 1, 6) + b"random")
PY
done

tensor_types() { "$qforge" inspect "$1" | awk '$3 ~ /^\[/ {print $1, $2}' | sort; }
same=0; differ=0
for preset in "${presets[@]}"; do
  for m in "${models[@]}"; do
    read -r name _ <<< "$m"
    for with in 0 1; do
      imatrix=(); [ "$with" = 1 ] && imatrix=(--imatrix "$name.dat")
      ours="q.$name.$preset.$with.gguf"; theirs="l.$name.$preset.$with.gguf"
      "$quantize" "${imatrix[@]}" "$name.gguf" "$theirs" "$preset" 1 > llama.log 2>&1 && llama_rc=0 || llama_rc=$?
      "$qforge" quantize-gguf "$name.gguf" "$ours" "$preset" --threads 1 "${imatrix[@]}" > qforge.log 2>&1 \
        && qforge_rc=0 || qforge_rc=$?
      label="preset $preset model $name imatrix $with"
      if [ "$llama_rc" != 0 ]; then
        offending="$(sed -n 's/.*offending tensor: *//p' llama.log | head -n 1)"
        if [ -n "${QFORGE_PRESET_TYPES_OUT:-}" ]; then  # the refusal, for tests/golden (make.sh)
          echo "$preset $name $with refused $offending" >> "$QFORGE_PRESET_TYPES_OUT"
        fi
        if [ "$qforge_rc" != 0 ] && grep -q "file type $preset needs an importance matrix.*'$offending'" qforge.log; then
          echo "$label: both refuse (llama-quantize names $offending): identical=1"; same=$((same + 1))
        else
          echo "$label: FAILED llama-quantize refused, qforge rc=$qforge_rc: $(tail -n 1 qforge.log)"; differ=$((differ + 1))
        fi
        continue
      fi
      if [ -n "${QFORGE_PRESET_TYPES_OUT:-}" ]; then  # llama-quantize's types, for tests/golden (make.sh)
        echo "$preset $name $with $("$qforge" inspect "$theirs" | awk '$3 ~ /^\[/ && $1 ~ /weight$/ && $1 !~ /_norm\.weight$/ {printf " %s", $2}')" \
          >> "$QFORGE_PRESET_TYPES_OUT"
      fi
      if [ "$qforge_rc" != 0 ]; then
        echo "$label: FAILED qforge refused: $(tail -n 1 qforge.log)"; differ=$((differ + 1)); continue
      fi
      if cmp -s "$ours" "$theirs"; then identical=1; same=$((same + 1)); else identical=0; differ=$((differ + 1)); fi
      echo "$label: identical=$identical qforge_bytes=$(stat -c %s "$ours") llama_bytes=$(stat -c %s "$theirs")"
      if [ "$identical" = 0 ]; then
        diff <(tensor_types "$ours") <(tensor_types "$theirs") | sed 's/^/  types (< qforge, > llama-quantize): /' || true
      fi
    done
  done
done
echo "presets: $same identical, $differ differ"
[ "$differ" -eq 0 ]
