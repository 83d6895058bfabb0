"""llama.cpp (node-llama-cpp) against qforge on qforge's own GGUF exports.

  agreement.py QFORGE RUN_SH WORK_DIR TEXT_FILE
  agreement.py --single QFORGE RUN_SH RUN_DIR FILE.gguf TYPE TEXT_FILE   (make demo: one run and its export)
  agreement.py --file QFORGE RUN_SH RUN_DIR FILE.gguf TYPE TEXT_FILE     (a post-training file: checks 1 and 2 only)
  agreement.py --study QFORGE RUN_SH STUDY_DIR TEXT_FILE                  (every GGUF cell of a `qforge study`)

WORK_DIR holds the runs `gguf` (char_llama_gguf, dim 256) and `fortunes` (char_llama_fortunes, dim 128)
and their exports gguf.<TYPE>.gguf / fortunes.<TYPE>.gguf (agreement.sh makes them). Checks:
  1. llama.cpp tokenizes a fortunes text to exactly the ids of qforge's char tokenizer;
  2. per file type, llama.cpp's next-token distributions (probs.mjs) against `qforge probs --gguf` on the
     same file, over 3 sequences of 64 tokens: max |p_llama - p_qforge| and the mean over positions of
     KL(p_qforge || p_llama), against the issue's per-type bounds (llama.cpp rounds activations to the
     weight's dot-product type, docs/gguf.md §11);
  3. the F32 file in llama.cpp against `qforge probs --checkpoint` (nothing lost in the export; the
     GGUF's appended control/byte tokens are dropped and llama.cpp's distribution renormalised over the
     run's vocabulary, which is the softmax of the same logits restricted to it).
Prints one line per check and "agreement: N passed, M failed".
"""
import csv
import json
import math
import os
import subprocess
import sys

# (max abs bound or None, mean KL bound) per file type: issue 7, "Checked by llama.cpp itself".
BOUNDS = {"F32": (1e-4, 1e-5), "F16": (None, 1e-4), "BF16": (None, 2e-3), "Q8_0": (None, 1e-2),
          "IQ4_NL": (None, 1e-2), "Q4_K_M": (None, 3e-2), "Q4_K": (None, 3e-2), "Q6_K": (None, 3e-2),
          "Q4_0": (None, 1e-2), "Q2_K": (None, 3e-2), "Q3_K_M": (None, 3e-2), "Q5_K_M": (None, 3e-2)}
SEQUENCE_LENGTH = 64
SEQUENCE_STARTS = (0, 700, 1400)


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ...: exit {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result.stdout


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def compare(reference_rows, test_rows):
    """max |p - q| and per-position KL(reference || test) over matching rows."""
    max_abs, kls = 0.0, []
    for p_row, q_row in zip(reference_rows, test_rows, strict=True):
        if len(p_row) != len(q_row):
            raise RuntimeError(f"vocabulary sizes differ: {len(p_row)} vs {len(q_row)}")
        kl = 0.0
        for p, q in zip(p_row, q_row):
            max_abs = max(max_abs, abs(p - q))
            # Generalised KL (+ q - p): the same as KL for normalised rows, but never negative when the
            # 9-digit rows sum to 1 only up to rounding.
            kl += q - p + (p * math.log(p / max(q, 1e-300)) if p > 0 else 0.0)
        kls.append(kl)
    return max_abs, kls


def compare_sequences(reference_runs, test_runs):
    """compare() over several sequences: overall max |p - q| and every position's KL."""
    max_abs, kls = 0.0, []
    for p_rows, q_rows in zip(reference_runs, test_runs, strict=True):
        m, k = compare(p_rows, q_rows)
        max_abs, kls = max(max_abs, m), kls + k
    return max_abs, kls


class Checker:
    def __init__(self, qforge, run_sh, work):
        self.qforge, self.run_sh, self.work = qforge, run_sh, work
        self.passed = self.failed = 0

    def record(self, ok, line):
        print(("ok     " if ok else "FAILED ") + line, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def llama_probs(self, gguf, sequences, options=()):
        """options: extra probs.mjs arguments, e.g. ("--lora", ADAPTER, "--lora-scale", "0.5")."""
        argument = ";".join(",".join(map(str, s)) for s in sequences)
        return [r["probs"] for r in json_lines(run([self.run_sh, "probs.mjs", "probs", gguf, argument, *options]))]

    def qforge_probs(self, source_flag, source, sequences, options=()):
        """options: extra `qforge probs` arguments, e.g. ("--lora", ADAPTER, "--lora-scale", "0.5")."""
        return [json.loads(run([self.qforge, "probs", source_flag, source, *options,
                                "--tokens", ",".join(map(str, s))]))["probs"] for s in sequences]

    def record_bounds(self, label, file_type, max_abs, kls, show_max_kl=True, bounds=None):
        """bounds: (max abs or None, mean KL) instead of BOUNDS[file_type], for checks tighter than the file type's."""
        mean_kl = sum(kls) / len(kls)
        abs_bound, kl_bound = bounds or BOUNDS[file_type]
        ok = mean_kl <= kl_bound and (abs_bound is None or max_abs <= abs_bound)
        limits = f"mean_kl<={kl_bound:g}" + (f" max_abs<={abs_bound:g}" if abs_bound else "")
        detail = f" max_kl={max(kls):.3e} positions={len(kls)}" if show_max_kl else ""
        self.record(ok, f"agreement {label} max_abs={max_abs:.3e} mean_kl={mean_kl:.3e}{detail} ({limits})")

    def check_file(self, run_name, file_type, sequences, gguf=None, label=None):
        gguf = gguf or f"{self.work}/{run_name}.{file_type}.gguf"
        llama = self.llama_probs(gguf, sequences)
        ours = self.qforge_probs("--gguf", gguf, sequences)
        max_abs, kls = compare_sequences(ours, llama)
        self.record_bounds(label or f"{run_name} {file_type:7s}", file_type, max_abs, kls)
        return llama, ours

    def check_checkpoint(self, run_name, sequences, llama_rows, file_type="F32"):
        ours = self.qforge_probs("--checkpoint", f"{self.work}/{run_name}", sequences)
        vocab = len(ours[0][0])
        restricted = [[[p / sum(row[:vocab]) for p in row[:vocab]] for row in rows] for rows in llama_rows]
        max_abs, kls = compare_sequences(ours, restricted)
        self.record_bounds(f"{run_name} checkpoint-vs-{file_type}", file_type, max_abs, kls, show_max_kl=False)
        return ours

    def check_tokenize(self, run_name, text_file, gguf=None):
        text = open(text_file, encoding="utf-8").read()
        ours = json.loads(run([self.qforge, "tokenize", "--checkpoint", f"{self.work}/{run_name}",
                               "--file", text_file]))["tokens"]
        gguf = gguf or f"{self.work}/{run_name}.F32.gguf"
        theirs = json_lines(run([self.run_sh, "probs.mjs", "tokenize", gguf, text]))[0]["tokens"]
        first_difference = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), None)
        self.record(ours == theirs, f"tokenize {run_name}: {len(text)} characters, qforge {len(ours)} ids, "
                                    f"llama.cpp {len(theirs)} ids, first difference at {first_difference}")
        return ours


def main_single(qforge, run_sh, run_dir, gguf, file_type, text_file):
    """One run and its export: tokenization, llama.cpp vs qforge on the file, and llama.cpp on the file vs
    the trained checkpoint's own forward (for format-exact QAT these are the same weights)."""
    work, run_name = os.path.split(os.path.abspath(run_dir))
    checker = Checker(qforge, run_sh, work)
    ids = checker.check_tokenize(run_name, text_file, gguf)
    sequences = [ids[start:start + SEQUENCE_LENGTH] for start in SEQUENCE_STARTS]
    llama, ours = checker.check_file(run_name, file_type, sequences, gguf, os.path.basename(gguf))
    trained = checker.check_checkpoint(run_name, sequences, llama, file_type)
    # The trained checkpoint's forward against the file's weights, both in qforge: for format-exact QAT
    # the weights are bit-identical, so only float summation order can differ.
    gap = compare_sequences(trained, ours)[0]
    checker.record(gap <= 1e-5, f"qforge checkpoint-vs-{os.path.basename(gguf)} max_abs={gap:.3e} (<=1e-05)")
    print(f"agreement: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


def main_file(qforge, run_sh, run_dir, gguf, file_type, text_file):
    """A file whose weights a post-training method chose (e.g. export --method gptq): tokenization and
    llama.cpp vs qforge on the file; the float checkpoint is not expected to match it."""
    work, run_name = os.path.split(os.path.abspath(run_dir))
    checker = Checker(qforge, run_sh, work)
    ids = checker.check_tokenize(run_name, text_file, gguf)
    checker.check_file(run_name, file_type, [ids[start:start + SEQUENCE_LENGTH] for start in SEQUENCE_STARTS], gguf,
                       os.path.basename(gguf))
    print(f"agreement: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


STUDY_COLUMNS = ("scheme", "method", "seed", "file", "mean_kl", "max_kl", "max_abs", "trained_vs_file_max_abs", "ok")


def study_row(checker, row, sequences):
    """One GGUF cell of a study (trainers/study/gguf_cells.h: run_dir/model.gguf): llama.cpp vs qforge on the
    file (check 2) and, for QAT cells, the trained checkpoint's forward vs the file in qforge (exact weights)."""
    gguf = os.path.join(row["run_dir"], "model.gguf")
    file_type = row["scheme"].split(":", 1)[1]
    before = checker.failed
    label = f"{row['method']:12s} {row['scheme']:14s}" + (f" seed {row['seed']}" if row["seed"] else "")
    # A file type without a bound of its own (IQ2_XS, IQ3_XXS) takes the k-quants' 3e-2.
    llama = checker.llama_probs(gguf, sequences)
    ours = checker.qforge_probs("--gguf", gguf, sequences)
    max_abs, kls = compare_sequences(ours, llama)
    checker.record_bounds(label, file_type, max_abs, kls, bounds=BOUNDS.get(file_type, (None, 3e-2)))
    trained_gap = ""
    if row["method"].startswith("qat"):
        trained = checker.qforge_probs("--checkpoint", row["run_dir"], sequences)
        vocab = len(trained[0][0])
        gap = compare_sequences(trained, [[r[:vocab] for r in rows] for rows in ours])[0]
        checker.record(gap <= 1e-5, f"qforge {label} checkpoint-vs-file max_abs={gap:.3e} (<=1e-05)")
        trained_gap = f"{gap:.3e}"
    return [row["scheme"], row["method"], row["seed"], gguf, f"{sum(kls) / len(kls):.6e}", f"{max(kls):.6e}",
            f"{max_abs:.6e}", trained_gap, "yes" if checker.failed == before else "no"]


def main_study(qforge, run_sh, study_dir, text_file):
    """Every gguf: row of STUDY_DIR/results.csv; writes STUDY_DIR/llamacpp_agreement.csv and .md."""
    rows = list(csv.DictReader(open(os.path.join(study_dir, "results.csv"))))
    float_run = next(r["run_dir"] for r in rows if r["method"] == "fp32")
    cells = [r for r in rows if r["scheme"].startswith("gguf:")]
    if not cells:
        raise RuntimeError(f"{study_dir}/results.csv has no gguf: rows")
    work, run_name = os.path.split(os.path.abspath(float_run))
    checker = Checker(qforge, run_sh, work)
    ids = checker.check_tokenize(run_name, text_file, os.path.join(cells[0]["run_dir"], "model.gguf"))
    sequences = [ids[start:start + SEQUENCE_LENGTH] for start in SEQUENCE_STARTS]
    table = [study_row(checker, row, sequences) for row in cells]
    with open(os.path.join(study_dir, "llamacpp_agreement.csv"), "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([STUDY_COLUMNS, *table])
    lines = ["| scheme | method | seed | mean KL(qforge ‖ llama.cpp) | max KL | max abs | trained vs file |",
             "|---|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {float(r[4]):.2e} | {float(r[5]):.2e} | {float(r[6]):.2e} | {r[7]} |" for r in table]
    with open(os.path.join(study_dir, "llamacpp_agreement.md"), "w") as f:
        f.write(f"llama.cpp (node-llama-cpp) against qforge on every GGUF cell, {len(sequences)} sequences of "
                f"{SEQUENCE_LENGTH} tokens (tools/llamacpp/agreement.py --study)\n\n" + "\n".join(lines) + "\n")
    print(f"agreement: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


def main():
    if sys.argv[1] == "--study":
        main_study(*sys.argv[2:6])
    if sys.argv[1] == "--single":
        main_single(*sys.argv[2:8])
    if sys.argv[1] == "--file":
        main_file(*sys.argv[2:8])
    qforge, run_sh, work, text_file = sys.argv[1:5]
    checker = Checker(qforge, run_sh, work)
    ids = checker.check_tokenize("gguf", text_file)
    sequences = [ids[start:start + SEQUENCE_LENGTH] for start in SEQUENCE_STARTS]
    if any(len(s) != SEQUENCE_LENGTH for s in sequences):
        raise RuntimeError(f"{text_file} is too short for {len(SEQUENCE_STARTS)} sequences of {SEQUENCE_LENGTH} tokens")
    for file_type in ("F32", "F16", "BF16", "Q8_0", "IQ4_NL", "Q4_K_M", "Q4_0", "Q2_K", "Q3_K_M", "Q5_K_M"):
        llama, _ = checker.check_file("gguf", file_type, sequences)
        if file_type == "F32":
            checker.check_checkpoint("gguf", sequences, llama)
    # dim 128: the Q4_K_M mix falls back to Q5_0/Q8_0 where rows are not multiples of 256.
    ids = checker.check_tokenize("fortunes", text_file)
    checker.check_file("fortunes", "Q4_K_M", [ids[start:start + SEQUENCE_LENGTH] for start in SEQUENCE_STARTS])
    print(f"agreement: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


if __name__ == "__main__":
    main()
