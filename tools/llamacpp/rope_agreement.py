"""llama.cpp against qforge on rope-scaled GGUF files (docs/gguf.md §15); rope_scaling.sh runs it.

  rope_agreement.py QFORGE RUN_SH DIR     DIR: rope_llama's llama3.gguf, linear.gguf, unscaled.gguf, llama3-hf/

Two sequences of 128 random token ids (twice llama3's original context of 64). For each scaled file:
llama.cpp's next-token distributions (probs.mjs) against `qforge probs --gguf` on the same file, at the
positions beyond the original context and at all positions, within agreement.py's F32 bounds; for llama3 also
against `qforge probs --hf` on the same model as a Hugging Face folder (HF's llama3 frequencies in double,
not the file's float32 divisors: what the conversion changes, in llama.cpp). The controls:
qforge on each scaled file against llama.cpp on the unscaled one must break those bounds (a reader that
dropped the scaling would be caught). Prints one line per check and "rope scaling: N passed, M failed".
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agreement import BOUNDS, Checker, compare_sequences  # noqa: E402

LENGTH, ORIGINAL_CONTEXT, VOCAB = 128, 64, 96


def beyond(rows_per_sequence):
    return [rows[ORIGINAL_CONTEXT:] for rows in rows_per_sequence]


def main(qforge, run_sh, folder):
    checker = Checker(qforge, run_sh, folder)
    rng = random.Random(7)
    sequences = [[rng.randrange(VOCAB) for _ in range(LENGTH)] for _ in range(2)]
    unscaled = checker.llama_probs(f"{folder}/unscaled.gguf", sequences)
    abs_bound, kl_bound = BOUNDS["F32"]
    for name in ("llama3", "linear"):
        gguf = f"{folder}/{name}.gguf"
        llama = checker.llama_probs(gguf, sequences)
        ours = checker.qforge_probs("--gguf", gguf, sequences)
        max_abs, kls = compare_sequences(ours, llama)
        checker.record_bounds(f"{name} all positions", "F32", max_abs, kls)
        max_abs, kls = compare_sequences(beyond(ours), beyond(llama))
        checker.record_bounds(f"{name} positions {ORIGINAL_CONTEXT}-{LENGTH - 1}", "F32", max_abs, kls)
        if name == "llama3":
            hf = checker.qforge_probs("--hf", f"{folder}/llama3-hf", sequences)
            # The file also has <unk>, <s>, </s> and the byte tokens (docs/gguf.md §4): llama.cpp's rows
            # renormalised over the model's 96, the softmax of the same logits restricted to them.
            restricted = [[[p / sum(row[:VOCAB]) for p in row[:VOCAB]] for row in rows] for rows in llama]
            max_abs, kls = compare_sequences(beyond(hf), beyond(restricted))
            checker.record_bounds(f"llama3 HF folder (qforge) vs file (llama.cpp) positions {ORIGINAL_CONTEXT}-{LENGTH - 1}",
                                  "F32", max_abs, kls)
        max_abs, kls = compare_sequences(beyond(ours), beyond(unscaled))
        mean_kl = sum(kls) / len(kls)
        broken = max_abs > abs_bound or mean_kl > kl_bound
        checker.record(broken, f"control {name} (qforge) vs unscaled (llama.cpp) positions {ORIGINAL_CONTEXT}-{LENGTH - 1} "
                               f"max_abs={max_abs:.3e} mean_kl={mean_kl:.3e} (must break max_abs<={abs_bound:g} or mean_kl<={kl_bound:g})")
    print(f"rope scaling: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
