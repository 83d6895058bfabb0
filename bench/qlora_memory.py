#!/usr/bin/python3
"""QLoRA against LoRA on an FP32 base: peak memory and step time of one training step (issue 8).

bench/qlora_step.cpp runs one configuration per process (so each peak RSS is that configuration's
alone): a random-weight Llama, batch 1 x 256 tokens, activation checkpointing on, LoRA rank 8 on all
seven projections, AdamW on the adapters. The two bases alternate, 3 rounds, and the median of each
side is reported (the machine is shared and noisy, +-15%):
  qlora_step rss_mb=... lora_fp32_rss_mb=... ratio=... step_s=... lora_fp32_step_s=... time_ratio=...
      dim 1024, 12 layers, 16 heads, 8 kv heads, ffn 2816, byte vocabulary (~150M in the projections);
      goals: ratio <= 0.35, time_ratio <= 1.5
  qlora_step_vocab32k rss_mb=... lora_fp32_rss_mb=...
      the 134M shape with a 32000 vocabulary (dim 768, 12 layers, 12 heads, ffn 2048; embedding and head
      FP32, frozen); a plain PyTorch 1.13 QLoRA measured 976 MB (LoRA on FP32: 1305 MB); goal <= 500 MB.
  qlora_step_vocab32k_nf4_head rss_mb=...   the same with lm_head frozen in NF4 as well
  qlora_step_gptq rss_mb=... nf4_rss_mb=... ratio=... step_s=... nf4_step_s=... time_ratio=...
      the 150m shape on a 4-bit GPTQ base (groups of 128, as `qlora --base` holds a GPTQ folder's Linears:
      fakequant::PackedGroupIndexWeight) beside the NF4 base; goal (issue 17): within 10% in RSS and time
  qlora_step_gptq_act ...   the same with act-order's scattered groups (g_idx a random column order)
  qlora_step_gguf TYPE rss_mb=... nf4_rss_mb=... ratio=... step_s=... nf4_step_s=... time_ratio=...
      the 150m shape on a GGUF base of file type TYPE (Q4_K_M, Q3_K_M, IQ2_XS): every projection a
      fakequant::PackedGgmlWeight in the ggml type llama.cpp's mix gives it (qlora_step --base), beside the
      NF4 base; goal (issue 18): time_ratio <= 1.2. The encoded bytes are cached in BUILD/bench/qlora_gguf_cache
      after the first round (IQ2_XS encoding takes minutes).
--only gguf runs just the gguf lines (--only lists sections: memory, vocab32k, gptq, gguf).
"""
import argparse
import os
import statistics
import subprocess
import sys


GGUF_BASES = ("Q4_K_M", "Q3_K_M", "IQ2_XS")
CACHE = None  # qlora_step --cache for the GGUF bases


def step(tool, shape, base, steps, head="f32"):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    cache = ["--cache", CACHE] if CACHE and base.upper() in GGUF_BASES else []
    out = subprocess.run([tool, "--shape", shape, "--base", base, "--head", head, "--steps", str(steps)] + cache,
                         check=True, capture_output=True, text=True, env=env).stdout
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    return float(fields["rss_mb"]), float(fields["step_s"])


def compare(tool, shape, steps, rounds, bases=("nf4", "f32")):
    runs = {b: [] for b in bases}
    for _ in range(rounds):
        for base in bases:  # alternated: the machine's noise falls on both sides
            runs[base].append(step(tool, shape, base, steps))
    median = {b: (statistics.median(r[0] for r in runs[b]), statistics.median(r[1] for r in runs[b])) for b in runs}
    return tuple(median[b] for b in bases)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--only", choices=("memory", "vocab32k", "gptq", "gguf"), action="append",
                        help="run only these sections (repeatable); default all")
    args = parser.parse_args()
    tool = os.path.join(args.build, "bench", "qlora_step")
    if not os.path.exists(tool):
        sys.exit(f"qlora_memory: {tool} missing: build first (make build)")
    global CACHE
    CACHE = os.path.join(args.build, "bench", "qlora_gguf_cache")
    os.makedirs(CACHE, exist_ok=True)
    sections = args.only or ["memory", "vocab32k", "gptq", "gguf"]
    if "memory" in sections:
        memory_lines(tool, args)
    if "vocab32k" in sections:
        vocab32k_lines(tool, args)
    if "gptq" in sections:
        gptq_lines(tool, args)
    if "gguf" in sections:
        gguf_lines(tool, args)


def memory_lines(tool, args):
    (rss, sec), (rss32, sec32) = compare(tool, "150m", args.steps, args.rounds)
    print(f"qlora_step rss_mb={rss:.0f} lora_fp32_rss_mb={rss32:.0f} ratio={rss / rss32:.3f} "
          f"step_s={sec:.3f} lora_fp32_step_s={sec32:.3f} time_ratio={sec / sec32:.2f}", flush=True)


def vocab32k_lines(tool, args):
    (rss, sec), (rss32, sec32) = compare(tool, "vocab32k", args.steps, args.rounds)
    print(f"qlora_step_vocab32k rss_mb={rss:.0f} lora_fp32_rss_mb={rss32:.0f} ratio={rss / rss32:.3f} "
          f"step_s={sec:.3f} lora_fp32_step_s={sec32:.3f} time_ratio={sec / sec32:.2f}", flush=True)
    rss_head = statistics.median(step(tool, "vocab32k", "nf4", args.steps, head="nf4")[0] for _ in range(args.rounds))
    print(f"qlora_step_vocab32k_nf4_head rss_mb={rss_head:.0f} (lm_head frozen in NF4 too)", flush=True)


def gptq_lines(tool, args):
    (rss, sec), (rss_act, sec_act), (rss4, sec4) = compare(tool, "150m", args.steps, args.rounds,
                                                           ("gptq", "gptq-act", "nf4"))
    for label, r, t in (("qlora_step_gptq", rss, sec), ("qlora_step_gptq_act", rss_act, sec_act)):
        print(f"{label} rss_mb={r:.0f} nf4_rss_mb={rss4:.0f} ratio={r / rss4:.3f} step_s={t:.3f} "
              f"nf4_step_s={sec4:.3f} time_ratio={t / sec4:.2f}", flush=True)


def gguf_lines(tool, args):
    # Each file type alternates with its own NF4 runs (the machine's load drifts over a long bench).
    for file_type in GGUF_BASES:
        (rss, sec), (rss4, sec4) = compare(tool, "150m", args.steps, args.rounds, (file_type.lower(), "nf4"))
        print(f"qlora_step_gguf {file_type} rss_mb={rss:.0f} nf4_rss_mb={rss4:.0f} ratio={rss / rss4:.3f} "
              f"step_s={sec:.3f} nf4_step_s={sec4:.3f} time_ratio={sec / sec4:.2f}", flush=True)


if __name__ == "__main__":
    main()
