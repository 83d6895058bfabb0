#!/usr/bin/python3
"""Whole-model GPTQ on the 150M-parameter QLoRA bench shape: time and peak RSS (issue 16).

A float run of the shape (dim 1024, 12 layers, 16 heads, 8 kv heads, ffn 2816, byte vocabulary, context
256; ~150M parameters in the projections) is made once by one training step, then `qforge quantize
--method gptq --scheme int4:g128` runs on it in its own process (peak RSS from /usr/bin/time) with
calibration batches of 8 x 256 tokens, beside round to nearest for reference. GPTQ streams the decoder
layers (ptq/sequential.h), so its peak should be the model plus one layer's inputs; the goal is at most
the FP32 model plus 1 GiB. Prints
    ptq_gptq_model params_m=... fp32_mb=... gptq_s=... gptq_rss_mb=... over_fp32_mb=... rtn_s=... rtn_rss_mb=...
"""
import argparse
import os
import re
import subprocess
import sys
import time

CONFIG = """model { llama { hidden_size: 1024 num_hidden_layers: 12 num_attention_heads: 16 num_key_value_heads: 8
                intermediate_size: 2816 max_position_embeddings: 256 } }
data { text { tokenizer: "byte" corpus_end: 0.2 } batch_size: 8 }
optimizer { name: "adamw" lr: 0.0001 }
trainer { steps: 1 log_every: 1 eval_batches: 2 seed: 1 }
"""


def timed(cmd):
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="2"))
    if result.returncode != 0:
        sys.exit(f"ptq_model: {' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return time.perf_counter() - start, rss_kb / 1024, result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--calibration-batches", type=int, default=16)
    args = parser.parse_args()
    qforge = os.path.join(args.build, "cli", "qforge")
    root = os.path.join(args.build, "bench-ptq", "model150m")
    os.makedirs(root, exist_ok=True)
    float_run = os.path.join(root, "float")
    if not os.path.exists(os.path.join(float_run, "checkpoint.bin")):
        with open(os.path.join(root, "config.pbtxt"), "w") as f:
            f.write(CONFIG)
        subprocess.run([qforge, "train", "--config", os.path.join(root, "config.pbtxt"), "--run-dir", float_run, "--fresh"],
                       check=True, capture_output=True)
    quantize = [qforge, "quantize", "--checkpoint", float_run, "--scheme", "int4:g128", "--keep-float", "lm_head",
                "--keep-float", "model.embed_tokens", "--calibration-batches", str(args.calibration_batches)]
    gptq_s, gptq_rss, out = timed(quantize + ["--method", "gptq", "-o", os.path.join(root, "gptq")])
    rtn_s, rtn_rss, _ = timed(quantize + ["--method", "rtn", "-o", os.path.join(root, "rtn")])
    params = 1024 * 1024 * 2 + 1024 * 512 * 2 + 3 * 1024 * 2816
    params_m = (params * 12 + 2 * 256 * 1024 + 12 * 2048 + 1024) / 1e6
    fp32_mb = params_m * 1e6 * 4 / 2**20
    print(f"ptq_gptq_model params_m={params_m:.0f} fp32_mb={fp32_mb:.0f} gptq_s={gptq_s:.1f} gptq_rss_mb={gptq_rss:.0f} "
          f"over_fp32_mb={gptq_rss - fp32_mb:.0f} rtn_s={rtn_s:.1f} rtn_rss_mb={rtn_rss:.0f} "
          f"(w4 g128, {args.calibration_batches} x 8 x 256 calibration tokens; goal over_fp32_mb <= 1024)")
    print(f"ptq_gptq_model quantize said: {out.strip().splitlines()[0] if out.strip() else ''}")


if __name__ == "__main__":
    main()
