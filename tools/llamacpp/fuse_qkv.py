"""Fuse a GGUF's attn_q/k/v tensors into blk.N.attn_qkv as llama.cpp's converter does (docs/gguf.md §3).

  PYTHONPATH=GGUF_PY fuse_qkv.py IN.gguf OUT.gguf [--order qkv|kqv] [--separate-bias]
  PYTHONPATH=GGUF_PY fuse_qkv.py IN.gguf OUT.gguf --split

convert_hf_to_gguf.py --fuse-qkv (conversion/base.py, ModelBase.modify_tensors) writes
torch.cat([q, k, v], dim=0) of the tensors LlamaModel.modify_tensors has already rope-permuted, biases alike,
under the name of q's place: a fused tensor's rows are the file's q rows, then k, then v. This script does the
same on a GGUF that already has the separate tensors, with llama.cpp's own gguf-py (GGUFReader, GGUFWriter),
for any ggml type: a quantized tensor's data are [rows, row bytes] uint8, and rows are independent blocks.
--order kqv writes the rows in the wrong order (a control that llama.cpp must read as another model);
--separate-bias keeps attn_q/k/v.bias beside the fused weight (llama-model.cpp create_tensor_qkv loads them).
--split does the inverse (attn_qkv -> attn_q/k/v, rows n_head·head_dim, then n_head_kv·head_dim twice, from
the <arch>.* keys as llama-model.cpp create_tensor_qkv sizes them), so a fused quantized file has an unfused
twin with the same blocks. Metadata are copied as gguf-py's gguf_new_metadata.py copies them.
"""
import argparse
import re

import numpy as np
import gguf

PARTS = {"q": "attn_q", "k": "attn_k", "v": "attn_v"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--order", default="qkv", choices=("qkv", "kqv"))
    parser.add_argument("--separate-bias", action="store_true")
    parser.add_argument("--split", action="store_true")
    args = parser.parse_args()
    reader = gguf.GGUFReader(args.input)
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(args.output, arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), field.types[0], sub_type=sub_type)
    if args.split:
        split(reader, writer, arch)
        return
    by_name = {t.name: t for t in reader.tensors}
    fused = 0
    for t in reader.tensors:
        m = re.fullmatch(r"blk\.(\d+)\.attn_([qkv])\.(weight|bias)", t.name)
        if m is None or (m.group(3) == "bias" and args.separate_bias):
            writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
            continue
        if m.group(2) != "q":
            continue  # written inside the fused tensor, at q's place
        parts = [by_name[f"blk.{m.group(1)}.{PARTS[p]}.{m.group(3)}"] for p in args.order]
        if len({p.tensor_type for p in parts}) != 1:
            raise SystemExit(f"fuse_qkv: blk.{m.group(1)} q/k/v have different ggml types")
        data = np.concatenate([p.data for p in parts], axis=0)
        writer.add_tensor(f"blk.{m.group(1)}.attn_qkv.{m.group(3)}", data, raw_dtype=t.tensor_type)
        fused += 1
    finish(writer)
    print(f"fuse_qkv: {fused} fused tensors ({args.order}) -> {args.output}")


def split(reader, writer, arch):
    key = lambda k: int(reader.fields[f"{arch}.{k}"].contents())
    head_dim = key("embedding_length") // key("attention.head_count")
    rows = [key("attention.head_count") * head_dim] + [key("attention.head_count_kv") * head_dim] * 2
    n = 0
    for t in reader.tensors:
        m = re.fullmatch(r"blk\.(\d+)\.attn_qkv\.(weight|bias)", t.name)
        if m is None:
            writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
            continue
        if t.data.shape[0] != sum(rows):
            raise SystemExit(f"fuse_qkv --split: {t.name} has {t.data.shape[0]} rows, not {sum(rows)}")
        for part, (first, count) in zip("qkv", ((0, rows[0]), (rows[0], rows[1]), (rows[0] + rows[1], rows[2]))):
            writer.add_tensor(f"blk.{m.group(1)}.{PARTS[part]}.{m.group(2)}", t.data[first:first + count], raw_dtype=t.tensor_type)
        n += 1
    finish(writer)
    print(f"fuse_qkv --split: {n} fused tensors split")


def finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
