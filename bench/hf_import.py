#!/usr/bin/python3
"""Import of a 1B-parameter BF16 sharded Hugging Face checkpoint: time, throughput and peak RSS (issue 17).

The bench writes (once, with numpy, independently of the C++ reader) a Llama folder of the Llama 3.2 1B
layout with a 32000-token vocabulary: hidden 2048, 16 layers, 32 heads, 8 kv heads, ffn 8192, untied head,
about 1.10 B parameters, BF16 random weights (N(0, 0.02)), in shards of at most 500 MB with
model.safetensors.index.json. Then `qforge probs --hf DIR --tokens 1` runs in its own process: it maps the
shards, converts tensor by tensor to FP32 and runs one token, so its wall time is the import plus a
negligible forward (about 2 GFLOP). Beside it, alternating, the PyTorch peer: what transformers'
from_pretrained does with a safetensors checkpoint in FP32 (the file mapped, each tensor viewed as
torch.bfloat16 and converted with .float()), written here with numpy.memmap since Debian has no
safetensors package; it builds no model, so it is the lower bound of a PyTorch import. Peak RSS from
/usr/bin/time. The goals: peak RSS at most the FP32
model plus 10%, at least 1 GB/s of checkpoint bytes. The shards are in the page cache after the first
run (warm); the first run's figure is printed too (cold only if the cache did not hold them). Prints
    hf_import params_b=... bf16_gb=... fp32_mb=... run=K seconds=... gb_per_s=... rss_mb=... rss_over_fp32=...
    hf_import median seconds=... gb_per_s=... rss_mb=... rss_over_fp32=... torch_s=... ratio=... goals rss<=1.10 gb_per_s>=1
"""
import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time

import numpy as np

SHAPE = dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
             intermediate_size=8192, vocab_size=32000)
SHARD_BYTES = 500 * 2**20


def tensor_shapes():
    h, f, v = SHAPE["hidden_size"], SHAPE["intermediate_size"], SHAPE["vocab_size"]
    kv = h // SHAPE["num_attention_heads"] * SHAPE["num_key_value_heads"]
    yield "model.embed_tokens.weight", (v, h)
    for i in range(SHAPE["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (h, h)
        yield p + "self_attn.k_proj.weight", (kv, h)
        yield p + "self_attn.v_proj.weight", (kv, h)
        yield p + "self_attn.o_proj.weight", (h, h)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (f, h)
        yield p + "mlp.up_proj.weight", (f, h)
        yield p + "mlp.down_proj.weight", (h, f)
    yield "model.norm.weight", (h,)
    yield "lm_head.weight", (v, h)


def bf16(shape, rng, norm):
    """BF16 bits of N(0, 0.02) (norm weights: 1.0), rounded to nearest even from float32."""
    if norm:
        return np.full(shape, 0x3F80, dtype=np.uint16)
    x = (rng.standard_normal(shape, dtype=np.float32) * 0.02).view(np.uint32)
    return ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype(np.uint16)


def write_shard(path, tensors):
    header, offset = {}, 0
    for name, data in tensors:
        header[name] = {"dtype": "BF16", "shape": list(data.shape), "data_offsets": [offset, offset + data.nbytes]}
        offset += data.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, data in tensors:
            f.write(data.tobytes())
    os.replace(path + ".tmp", path)


def make_folder(folder):
    """Writes the folder unless its index exists; returns (parameters, checkpoint bytes)."""
    params = sum(int(np.prod(s)) for _, s in tensor_shapes())
    index_path = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index_path):
        os.makedirs(folder, exist_ok=True)
        rng = np.random.default_rng(1)
        shards, current, size = [], [], 0
        for name, shape in tensor_shapes():
            data = bf16(shape, rng, name.endswith("norm.weight"))
            if current and size + data.nbytes > SHARD_BYTES:
                shards.append(current)
                current, size = [], 0
            current.append((name, data))
            size += data.nbytes
            if size >= SHARD_BYTES:
                shards.append(current)
                current, size = [], 0
        if current:
            shards.append(current)
        weight_map = {}
        for k, shard in enumerate(shards):
            file = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
            write_shard(os.path.join(folder, file), shard)
            weight_map.update({name: file for name, _ in shard})
        config = dict(SHAPE, architectures=["LlamaForCausalLM"], model_type="llama", hidden_act="silu",
                      max_position_embeddings=2048, rms_norm_eps=1e-5, rope_theta=500000.0,
                      tie_word_embeddings=False, torch_dtype="bfloat16")
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        with open(index_path, "w") as f:
            json.dump({"metadata": {"total_size": 2 * params}, "weight_map": weight_map}, f, indent=2)
    checkpoint_bytes = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder) if n.endswith(".safetensors"))
    return params, checkpoint_bytes


TORCH_LOAD = """
import json, os, sys, numpy as np, torch
torch.set_num_threads(2)
folder = sys.argv[1]
index = json.load(open(os.path.join(folder, "model.safetensors.index.json")))
state = {}
for file in sorted(set(index["weight_map"].values())):
    raw = np.memmap(os.path.join(folder, file), dtype=np.uint8, mode="r")
    n = int.from_bytes(raw[:8].tobytes(), "little")
    header = json.loads(raw[8:8 + n].tobytes())
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = (8 + n + o for o in t["data_offsets"])
        codes = torch.from_numpy(np.asarray(raw[begin:end]).view(np.int16))
        state[name] = codes.view(torch.bfloat16).float().reshape(t["shape"])
print(sum(v.numel() for v in state.values()))
"""


def run(qforge, folder, torch_peer=False):
    start = time.perf_counter()
    cmd = (["/usr/bin/python3", "-c", TORCH_LOAD, folder] if torch_peer
           else [qforge, "probs", "--hf", folder, "--tokens", "1"])
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="1")
    env.pop("OPENBLAS_CORETYPE", None)
    result = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"hf_import: {' '.join(cmd[:2])} on {folder} failed:\n{result.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return seconds, rss_kb / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    qforge = os.path.join(args.build, "cli", "qforge")
    folder = os.path.join(args.build, "bench-hf", "llama1b-bf16")
    params, checkpoint_bytes = make_folder(folder)
    fp32_mb = params * 4 / 2**20
    print(f"hf_import params_b={params / 1e9:.3f} bf16_gb={checkpoint_bytes / 1e9:.2f} fp32_mb={fp32_mb:.0f} "
          f"shards={len([n for n in os.listdir(folder) if n.endswith('.safetensors')])}")
    rows, ratios = [], []
    for k in range(args.runs):
        seconds, rss_mb = run(qforge, folder)
        torch_s, torch_rss = run(qforge, folder, torch_peer=True)
        rows.append((seconds, rss_mb))
        ratios.append(torch_s / seconds)
        print(f"hf_import run={k + 1} seconds={seconds:.2f} gb_per_s={checkpoint_bytes / 1e9 / seconds:.2f} "
              f"rss_mb={rss_mb:.0f} rss_over_fp32={rss_mb / fp32_mb:.3f} | torch_s={torch_s:.2f} torch_rss_mb={torch_rss:.0f}",
              flush=True)
    seconds = statistics.median(r[0] for r in rows)
    rss_mb = max(r[1] for r in rows)
    print(f"hf_import median seconds={seconds:.2f} gb_per_s={checkpoint_bytes / 1e9 / seconds:.2f} rss_mb={rss_mb:.0f} "
          f"rss_over_fp32={rss_mb / fp32_mb:.3f} ratio={statistics.median(ratios):.2f} (torch / qforge) "
          f"goals rss<=1.10 gb_per_s>=1")


if __name__ == "__main__":
    main()
