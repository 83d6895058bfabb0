"""llama.cpp against qforge on GGUF files with fused attn_qkv tensors (docs/gguf.md §3); fused_qkv.sh runs it.

  fused_agreement.py QFORGE RUN_SH DIR

DIR holds, for NAME in llama, qwen2 and TYPE in F32, Q8_0, Q4_K_M: NAME.TYPE.fused.gguf and its unfused twin
NAME.TYPE.gguf with the same blocks (F32: qforge's export and fuse_qkv.py's fusion of it; quantized: quantize-gguf
of the fused F32 file, whose attn_qkv takes attn_v's type, and fuse_qkv.py --split of it); qwen2.F32.sepbias.gguf (fused weight, separate biases) and
NAME.F32.kqv.gguf (rows fused in the wrong order). One sequence of 96 random ids. Checks:
- qforge on the fused file prints exactly what it prints on the unfused one (the same JSON text);
- llama.cpp on the fused file against qforge on it, within agreement.py's bound for TYPE;
- control: llama.cpp on the k, q, v file against qforge on the right one must break the F32 bounds.
Prints one line per check and "fused agreement: N passed, M failed".
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agreement import BOUNDS, Checker, compare_sequences  # noqa: E402

LENGTH, VOCAB = 96, 95


def main(qforge, run_sh, folder):
    checker = Checker(qforge, run_sh, folder)
    rng = random.Random(11)
    sequences = [[rng.randrange(VOCAB) for _ in range(LENGTH)]]
    for name in ("llama", "qwen2"):
        for file_type in ("F32", "Q8_0", "Q4_K_M"):
            plain = checker.qforge_probs("--gguf", f"{folder}/{name}.{file_type}.gguf", sequences)
            variants = ["fused"] + (["sepbias"] if name == "qwen2" and file_type == "F32" else [])
            for variant in variants:
                gguf = f"{folder}/{name}.{file_type}.{variant}.gguf"
                ours = checker.qforge_probs("--gguf", gguf, sequences)
                checker.record(ours == plain, f"{name} {file_type} {variant}: qforge prints the unfused file's probabilities exactly")
                max_abs, kls = compare_sequences(ours, checker.llama_probs(gguf, sequences))
                checker.record_bounds(f"{name} {file_type} {variant} (llama.cpp vs qforge)", file_type, max_abs, kls)
            if file_type == "F32":
                abs_bound, kl_bound = BOUNDS["F32"]
                max_abs, kls = compare_sequences(plain, checker.llama_probs(f"{folder}/{name}.F32.kqv.gguf", sequences))
                mean_kl = sum(kls) / len(kls)
                broken = max_abs > abs_bound or mean_kl > kl_bound
                checker.record(broken, f"control {name} k,q,v rows (llama.cpp) vs q,k,v (qforge) max_abs={max_abs:.3e} "
                                       f"mean_kl={mean_kl:.3e} (must break max_abs<={abs_bound:g} or mean_kl<={kl_bound:g})")
    print(f"fused agreement: {checker.passed} passed, {checker.failed} failed")
    sys.exit(1 if checker.failed else 0)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
