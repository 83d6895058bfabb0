#!/usr/bin/env bash
# The study's budget axis (docs/budget_split.md §2) on a tiny budget: T = 60 + 20 steps, shares 0.5 and
# 0.75. Asserts the step counts of every float and QAT run, that each float run's cosine schedule ends
# at its own end (min_lr at its last step, so it is not a truncated longer run), and the report section.
#   study_budget_split.sh QFORGE CONFIG
set -euo pipefail
qforge=$1 config=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$qforge" study --config "$config" --out "$out" --set base.trainer.steps=60 --set base.trainer.checkpoint_every=0 \
  --set base.trainer.log_every=10 --set base.schedule.warmup_steps=5 --set qat_trainer.steps=20 \
  --set qat_trainer.checkpoint_every=0 --set qat_trainer.log_every=10 --set weight_schemes=int4:g128:asym \
  --set methods=qat --set seeds=1 --set budget_split.fp_fractions=0.5,0.75 | grep -E '^study:'
grep -q "^## Budget split (ParetoQ)" "$out/report.md" || { echo "report.md has no budget split section"; exit 1; }
/usr/bin/python3 - "$out" <<'PY'
import csv, json, os, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "budget_split.csv"))))
def metrics(run_dir):
    return [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
def last_train(run_dir):
    return [m for m in metrics(run_dir) if m["event"] == "train"][-1]
full = rows[0]
assert (full["fp_fraction"], full["fp_steps"], full["qat_steps"]) == ("1", "80", "0"), full
expect = {("0.5", ""): (40, 0), ("0.5", "qat"): (40, 40), ("0.75", ""): (60, 0), ("0.75", "qat"): (60, 20)}
seen = set()
for r in rows[1:]:
    key = (r["fp_fraction"], "" if r["method"] == "fp32" else r["method"])
    fp, qat = expect[key]
    assert (int(r["fp_steps"]), int(r["qat_steps"])) == (fp, qat), r
    last = last_train(r["run_dir"])
    assert last["step"] == (qat if qat else fp), (r["run_dir"], last)
    seen.add(key)
    if not qat:
        # warmup 5, cosine to min_lr 0.0002 at the run's own last step (lr 0.002 at its peak)
        assert last["lr"] < 0.0004, (r["run_dir"], last["lr"])  # a run cut from a longer schedule sits near 0.001
    else:
        cfg = open(os.path.join(r["run_dir"], "config.pbtxt")).read()
        assert "split-fp" + r["fp_fraction"] in cfg, "QAT cell does not start from its float run"
assert seen == set(expect), seen
assert last_train(full["run_dir"])["step"] == 80
print("budget split checks passed")
PY
