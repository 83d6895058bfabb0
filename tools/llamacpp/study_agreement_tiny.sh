#!/usr/bin/env bash
# ctest peer.llamacpp_study_agreement: a tiny GGUF study (examples/study_gguf_char_llama.pbtxt shrunk to
# 1 layer, context 64, 20 float + 3 QAT steps; Q3_K_M and Q4_K_M x ptq, ptq:imatrix, qat, qat:imatrix),
# then study_agreement.sh on it: llama.cpp agrees with qforge on all 8 files and every QAT file is its
# trained forward.
#   tools/llamacpp/study_agreement_tiny.sh path/to/qforge
set -euo pipefail
qforge="$(realpath "$1")"
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
"$qforge" study --config "$peer/../../examples/study_gguf_char_llama.pbtxt" --out "$out" \
  --set base.model.llama.num_hidden_layers=1 --set base.model.llama.intermediate_size=256 \
  --set base.model.llama.max_position_embeddings=64 --set base.data.batch_size=2 --set base.data.text.corpus_end=0.05 \
  --set base.trainer.steps=20 --set base.trainer.eval_batches=2 --set base.trainer.checkpoint_every=0 \
  --set base.schedule.warmup_steps=2 --set qat_trainer.steps=3 --set qat_trainer.eval_batches=2 \
  --set qat_trainer.checkpoint_every=0 --set qat_schedule.warmup_steps=1 --set imatrix_chunks=8 \
  --set weight_schemes=gguf:Q3_K_M,gguf:Q4_K_M --set seeds=1 | grep -E '^study: (ptq|qat)'
bash "$peer/study_agreement.sh" "$qforge" "$out"
test "$(grep -c '^gguf:' "$out/llamacpp_agreement.csv")" = 8 || { echo "FAILED expected 8 files in llamacpp_agreement.csv"; exit 1; }
