#!/usr/bin/env bash
# Accuracy check of QAT vs PTQ with small budgets (ctest label "accuracy"): runs `qforge study` on an
# example config with overrides, then asserts on results.csv with Python.
#   study_small.sh QFORGE CONFIG CHECK_PY [--set field=value ...]
# CHECK_PY receives the rows as `rows` (dicts from csv.DictReader) and a helper
# cell(method, scheme, observer=None) -> row; it raises AssertionError on failure.
set -euo pipefail
qforge=$1 config=$2 check=$3
shift 3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$qforge" study --config "$config" --out "$out" "$@" | grep -E '^study:|^report:'
for f in report.md results.csv plot.svg; do test -s "$out/$f" || { echo "missing $f"; exit 1; }; done
/usr/bin/python3 - "$out/results.csv" "$check" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def cell(method, scheme, observer=None):
    for r in rows:
        if r["method"] == method and r["scheme"] == scheme and (observer is None or r["observer"] == observer):
            return r
    raise AssertionError(f"no cell {method} {scheme} {observer}")
def acc(r): return float(r["accuracy"])
def loss(r): return float(r["loss"])
exec(sys.argv[2])
print("study checks passed")
PY
