#!/usr/bin/env bash
# The study's GGUF rows (trainers/study/gguf_cells.h) on a tiny char-Llama (1 layer, dim 256 so Q3_K_M
# uses real Q3_K/Q4_K/Q5_K/Q6_K super-blocks, 5% of the fortunes corpus, 20 float steps, 3 QAT steps):
# gguf:Q3_K_M with ptq, ptq:imatrix, qat and qat:imatrix over seeds 1 and 2, ptq@gguf:Q2_K_S, which
# llama-quantize refuses without an imatrix, and qat@gguf:IQ2_XS, which QAT refuses without one (for each
# seed). Asserts: every row of results.csv, one model.gguf per cell, the QAT cells' files equal their
# trained forward bit for bit (the study checks each and says how many weights), the imatrix changes the
# PTQ file, the qat:imatrix run folder holds its imatrix copy, the file's loss is the trained forward's,
# the refused cells are in report.md, each once.
#   study_gguf.sh QFORGE CONFIG
set -euo pipefail
qforge=$1 config=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
"$qforge" study --config "$config" --out "$out" --set base.model.llama.num_hidden_layers=1 \
  --set base.model.llama.intermediate_size=256 --set base.model.llama.max_position_embeddings=32 \
  --set base.data.batch_size=2 --set base.data.text.corpus_end=0.05 --set base.trainer.steps=20 \
  --set base.trainer.eval_batches=2 --set base.trainer.checkpoint_every=0 --set base.schedule.warmup_steps=2 \
  --set qat_trainer.steps=3 --set qat_trainer.eval_batches=2 --set qat_trainer.checkpoint_every=0 \
  --set qat_trainer.log_every=1 --set qat_schedule.warmup_steps=1 --set imatrix_chunks=8 --set weight_schemes=gguf:Q3_K_M \
  --set methods=ptq,ptq:imatrix,qat,qat:imatrix,ptq@gguf:Q2_K_S,qat@gguf:IQ2_XS --set seeds=1,2 > "$out/log.txt"
grep -E '^study:' "$out/log.txt"
exact=$(grep -c "weights equal the trained forward's bit for bit" "$out/log.txt" || true)
[ "$exact" = 4 ] || { echo "expected 4 QAT cells (2 seeds) checked bit for bit, got $exact"; exit 1; }
grep -q "^## Refused cells" "$out/report.md" || { echo "report.md has no refused cells section"; exit 1; }
grep -q "ptq gguf:Q2_K_S: .*needs an importance matrix" "$out/report.md" || { echo "Q2_K_S ptq is not reported as refused"; exit 1; }
# QAT at IQ2_XS without an imatrix is refused for each seed, and listed once.
refused_qat=$(grep -c "^- qat gguf:IQ2_XS: .*needs an importance matrix" "$out/report.md" || true)
[ "$refused_qat" = 1 ] || { echo "expected the refused qat IQ2_XS cell listed once in report.md, got $refused_qat"; exit 1; }
/usr/bin/python3 - "$out" <<'PY'
import csv, os, re, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
cells = {(r["method"], r["scheme"]): r for r in rows}
for method in ("ptq", "ptq:imatrix", "qat", "qat:imatrix"):
    r = cells[(method, "gguf:Q3_K_M")]
    assert os.path.getsize(os.path.join(r["run_dir"], "model.gguf")) > 0, r
    # Q3_K_M's mix: Q3_K mostly, Q4_K attn_output, Q5_K attn_v, Q6_K output (+ the GGUF's extra token rows).
    assert 3.4 < float(r["bits_per_weight"]) < 5.0, r
    print(method, "bits", r["bits_per_weight"], "loss", r["loss"])
assert ("fp32", "fp32") in cells and ("fp32_control", "fp32") in cells, list(cells)
assert ("ptq", "gguf:Q2_K_S") not in cells, "a refused cell has no row"
ptq, weighted = (open(os.path.join(cells[(m, "gguf:Q3_K_M")]["run_dir"], "model.gguf"), "rb").read() for m in ("ptq", "ptq:imatrix"))
# The weighted file adds llama-quantize's quantize.imatrix.* record to the metadata; its tensor data (the end of
# the file, the same length in both: the same types) must differ too.
assert b"quantize.imatrix.entries_count" in weighted and b"quantize.imatrix" not in ptq, "imatrix record"
tail = len(ptq) // 2
assert ptq[-tail:] != weighted[-tail:], "the imatrix did not change the PTQ file's tensors"
assert os.path.exists(os.path.join(cells[("qat:imatrix", "gguf:Q3_K_M")]["run_dir"], "imatrix.gguf")), "no imatrix copy in the QAT run"
assert not os.path.exists(os.path.join(cells[("qat", "gguf:Q3_K_M")]["run_dir"], "imatrix.gguf"))
log = open(os.path.join(out, "log.txt")).read()
pairs = re.findall(r"trained forward val_loss=([0-9.]+), its file ([0-9.]+)", log)
assert len(pairs) == 4 and all(abs(float(a) - float(b)) <= 2e-6 for a, b in pairs), pairs
print("study gguf checks passed")
PY
