"""llama.cpp (node-llama-cpp) applying a LoRA adapter GGUF against `qforge probs --lora` on the same base.

  lora_agreement.py QFORGE RUN_SH WORK_DIR TEXT_FILE

WORK_DIR holds the run `gguf` (char_llama_gguf), its exports gguf.F32.gguf and gguf.Q4_K_M.gguf, and a
random adapter (nonzero B) as adapter.gguf and as the PEFT directory peft/ (lora_agreement.sh makes
them). Checks, over 2 sequences of 64 tokens, with agreement.py's comparison and bounds:
  1. the adapter moves the distributions (qforge with vs without it; check 2 ties qforge's adapted
     distributions to llama.cpp's), else the other checks prove nothing;
  2. F32 base + adapter at --lora-scale 1 and 0.5: llama.cpp vs qforge, the F32 bounds (docs/gguf.md §10);
  3. Q4_K_M base + adapter at scale 1: llama.cpp vs qforge on the same blocks, a bound near the measured
     agreement (Q4_K_M_LORA_BOUNDS), and the adapter's own effect on that base far above it;
  4. qforge with the PEFT directory gives the same distributions as with the GGUF adapter;
  5. trained adapters (qforge qlora runs lora_f32, lora_nf4), against the run itself as qforge applies
     it (`qforge probs --checkpoint RUN`, adapters unmerged): the F32 base GGUF + the run's exported
     GGUF adapter in llama.cpp (F32 bounds); the merged F32 export (F32 bounds) and merged Q4_K_M export
     (Q4_K_M_MERGED_BOUNDS, and the run far from the unmerged Q4_K_M base: the adapter is in the file); the
     NF4 run's merged F32 export (F32 bounds: merging the dequantized NF4 base).
Prints one line per check and "lora agreement: N passed, M failed".
"""
import json
import sys

from agreement import SEQUENCE_LENGTH, Checker, compare_sequences, run

SEQUENCE_STARTS = (0, 700)
MIN_ADAPTER_EFFECT = 1e-2  # max |p_with - p_without| the random adapter must reach
MIN_TRAINED_EFFECT = 1e-3  # and the adapter 10 qlora steps trained
# LoRA on a quantized base (issue 19): agreement.py's Q4_K_M bound (mean KL 3e-2) is for a file against
# the float forward (docs/gguf.md §11); a dropped adapter would pass it (the trained adapter moves the
# Q4_K_M base's distributions by a mean KL of 8.4e-3 only). Bounds near what is measured instead:
# random adapter on the Q4_K_M base, llama.cpp vs qforge on the same blocks: measured mean KL 5.0e-6
# (max abs 8.8e-5); the trained run vs llama.cpp on its merged Q4_K_M export (the merged weights'
# Q4_K/Q6_K rounding): measured mean KL 1.9e-5 (max abs 4.1e-4).
Q4_K_M_LORA_BOUNDS = (None, 5e-5)
Q4_K_M_MERGED_BOUNDS = (None, 1e-4)
# The adapter's own effect, mean KL(base + adapter || base alone) on the Q4_K_M base, must be at least this
# many times the bound, else the bound cannot tell the adapter from its absence (measured: random adapter
# 0.35 = 7000 x; trained run vs the unmerged Q4_K_M base 8.4e-3 = 84 x).
MIN_EFFECT_OVER_BOUND = 20


def mean_kl(reference, test):
    kls = compare_sequences(reference, test)[1]
    return sum(kls) / len(kls)


def record_effect(checker, label, effect, bounds):
    minimum = MIN_EFFECT_OVER_BOUND * bounds[1]
    checker.record(effect >= minimum, f"{label} mean_kl={effect:.3e} (>={minimum:g}, {MIN_EFFECT_OVER_BOUND} x the bound)")


def check_trained_adapters(checker, work, sequences, base_probs, q4_base_probs):
    f32 = f"{work}/gguf.F32.gguf"
    trained = checker.qforge_probs("--checkpoint", f"{work}/lora_f32", sequences)
    effect = compare_sequences(base_probs, trained)[0]
    checker.record(effect >= MIN_TRAINED_EFFECT,
                   f"trained adapter effect max_abs={effect:.3e} (>={MIN_TRAINED_EFFECT:g})")
    record_effect(checker, "trained adapter effect: the run vs its unmerged Q4_K_M base",
                  mean_kl(trained, q4_base_probs), Q4_K_M_MERGED_BOUNDS)
    cases = ((f"{work}/lora_f32", f32, ("--lora", f"{work}/lora_f32.adapter.gguf"), "F32", "F32 base + trained adapter"),
             (f"{work}/lora_f32", f"{work}/lora_f32.merged.F32.gguf", (), "F32", "trained LoRA merged F32"),
             (f"{work}/lora_f32", f"{work}/lora_f32.merged.Q4_K_M.gguf", (), "Q4_K_M", "trained LoRA merged Q4_K_M"),
             (f"{work}/lora_nf4", f"{work}/lora_nf4.merged.F32.gguf", (), "F32", "QLoRA (NF4 base) merged F32"))
    for run_dir, model, options, file_type, label in cases:
        ours = trained if run_dir.endswith("lora_f32") else checker.qforge_probs("--checkpoint", run_dir, sequences)
        max_abs, kls = compare_sequences(ours, checker.llama_probs(model, sequences, options))
        bounds = Q4_K_M_MERGED_BOUNDS if file_type == "Q4_K_M" else None
        checker.record_bounds(f"{label} vs the run", file_type, max_abs, kls, bounds=bounds)


def main():
    qforge, run_sh, work, text_file = sys.argv[1:5]
    checker = Checker(qforge, run_sh, work)
    # Tokenization against llama.cpp is agreement.sh's check; here only the ids (saves a llama.cpp run).
    ids = json.loads(run([qforge, "tokenize", "--checkpoint", f"{work}/gguf", "--file", text_file]))["tokens"]
    sequences = [ids[start:start + SEQUENCE_LENGTH] for start in SEQUENCE_STARTS]
    f32, q4 = f"{work}/gguf.F32.gguf", f"{work}/gguf.Q4_K_M.gguf"
    adapter, peft = f"{work}/adapter.gguf", f"{work}/peft"

    without = checker.qforge_probs("--gguf", f32, sequences)
    q4_without = checker.qforge_probs("--gguf", q4, sequences)
    for base, file_type, scale in ((f32, "F32", "1"), (f32, "F32", "0.5"), (q4, "Q4_K_M", "1")):
        options = ("--lora", adapter, "--lora-scale", scale)
        llama = checker.llama_probs(base, sequences, options)
        ours = checker.qforge_probs("--gguf", base, sequences, options)
        if file_type == "F32" and scale == "1":
            effect = compare_sequences(without, ours)[0]
            checker.record(effect >= MIN_ADAPTER_EFFECT, f"adapter effect max_abs={effect:.3e} (>={MIN_ADAPTER_EFFECT:g})")
        bounds = None
        if file_type == "Q4_K_M":
            bounds = Q4_K_M_LORA_BOUNDS
            record_effect(checker, "adapter effect on the Q4_K_M base", mean_kl(ours, q4_without), bounds)
        max_abs, kls = compare_sequences(ours, llama)
        checker.record_bounds(f"{file_type} + lora scale {scale}", file_type, max_abs, kls, bounds=bounds)
        if file_type == "F32" and scale == "1":
            from_peft = checker.qforge_probs("--gguf", base, sequences, ("--lora", peft, "--lora-scale", scale))
            gap = compare_sequences(ours, from_peft)[0]
            checker.record(gap <= 1e-7, f"qforge PEFT directory vs GGUF adapter max_abs={gap:.3e} (<=1e-07)")
    check_trained_adapters(checker, work, sequences, without, q4_without)
    print(f"lora agreement: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


if __name__ == "__main__":
    main()
