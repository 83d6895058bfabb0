"""Independent checks of `qforge export --format hf` folders (exporters/hf/hf_exporter.h, docs/hf.md §8), run
with Debian's /usr/bin/python3 (numpy, torch). The safetensors files are parsed here with json + struct
(huggingface/safetensors' format: 8-byte little-endian header length, JSON header, data), not by qforge.

  layout DIR [LIMIT]        the folder's files: every header padded so the data start at a multiple of 8, data
                            offsets contiguous from 0 to the end of the file, metadata {"format": "pt"}, one
                            dtype as config.json's torch_dtype, the tensor names and shapes config.json implies
                            (hf_reference.tensor_shapes); sharded: model-0000i-of-0000n names, the index's
                            weight_map and total_size, and the shards huggingface_hub's greedy split gives
                            for LIMIT bytes. Prints "layout ok: ...".
  rounded F32DIR LOWDIR OUTDIR  LOWDIR's tensors (F16 or BF16) must be F32DIR's rounded to nearest even, bit for
                            bit; writes OUTDIR, an F32 folder of LOWDIR's decoded values (config.json copied with
                            torch_dtype float32), whose probabilities must equal LOWDIR's. Prints the count.
  reference DIR TOKENS OUT  hf_reference.forward (float64) on DIR's stored values -> OUT {"tokens", "probs"},
                            for `hf_reference.py compare`.
  maxdiff A B               max abs difference of two `qforge probs` outputs.
  tokenizer DIR CORPUS      a tiny SentencePiece-style tokenizer.json (Llama 2's layout: Prepend + Replace "▁",
                            <unk> <s> </s>, 45 more tokens, merges) for a vocabulary-64 folder, and CORPUS: words
                            it merges, as a run's text data.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference  # noqa: E402

DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2)}
TORCH_DTYPE = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}


def fail(message):
    raise SystemExit("FAILED: " + message)


def read_safetensors(path):
    """{name: (dtype, shape, raw bytes)} and the metadata, checking the container's layout."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    if (8 + n) % 8:
        fail(f"{path}: data start {8 + n} is not a multiple of 8")
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", None)
    at, out = 0, {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        if b != at:
            fail(f"{path}: tensor {name} begins at {b}, expected {at}")
        width = DTYPES[info["dtype"]][1]
        if e - b != width * int(np.prod(info["shape"], dtype=np.int64)):
            fail(f"{path}: tensor {name} has {e - b} bytes for shape {info['shape']} {info['dtype']}")
        out[name] = (info["dtype"], tuple(info["shape"]), raw[8 + n + b:8 + n + e])
        at = e
    if 8 + n + at != len(raw):
        fail(f"{path}: data end {8 + n + at} != file size {len(raw)}")
    return out, metadata


def decode(dtype, shape, raw):
    if dtype == "BF16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return np.frombuffer(raw, DTYPES[dtype][0]).astype(np.float32).reshape(shape)


def weight_files(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        return {"model.safetensors": None}, None
    j = json.load(open(index))
    files = sorted(set(j["weight_map"].values()))
    return {f: [t for t, s in j["weight_map"].items() if s == f] for f in files}, j


def read_folder(folder):
    files, index = weight_files(folder)
    tensors, per_file = {}, {}
    for f, listed in files.items():
        got, metadata = read_safetensors(os.path.join(folder, f))
        if metadata != {"format": "pt"}:
            fail(f"{f}: metadata {metadata}, expected {{'format': 'pt'}} (transformers' loader checks it)")
        if listed is not None and sorted(listed) != sorted(got):
            fail(f"{f}: holds {sorted(got)}, the index names {sorted(listed)}")
        if set(got) & set(tensors):
            fail(f"{f}: tensors also in another file: {sorted(set(got) & set(tensors))}")
        tensors.update(got)
        per_file[f] = got
    return tensors, per_file, index


def greedy_split(sizes, limit):
    """huggingface_hub's split_state_dict_into_shards_factory on (name, bytes) in model order."""
    shards, current, size = [], [], 0
    for name, n in sizes:
        if n > limit:
            shards.append([name])
            continue
        if size + n > limit and current:
            shards.append(current)
            current, size = [], 0
        current.append(name)
        size += n
    return shards + ([current] if current else [])


def layout(folder, limit=None):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    arch = cfg["architectures"][0]
    dtype = TORCH_DTYPE[cfg["torch_dtype"]]
    tensors, per_file, index = read_folder(folder)
    expected = hf_reference.tensor_shapes(cfg, arch)
    if sorted(tensors) != sorted(n for n, _ in expected):
        fail(f"tensors {sorted(set(tensors) ^ set(n for n, _ in expected))} differ from config.json's")
    for name, shape in expected:
        if tensors[name][1] != tuple(shape) or tensors[name][0] != dtype:
            fail(f"{name}: {tensors[name][0]} {tensors[name][1]}, config.json implies {dtype} {tuple(shape)}")
    if index is not None:
        sizes = [(n, len(tensors[n][2])) for n, _ in expected]
        if index["metadata"]["total_size"] != sum(s for _, s in sizes):
            fail(f"index total_size {index['metadata']['total_size']} != {sum(s for _, s in sizes)}")
        shards = greedy_split(sizes, limit) if limit else None
        count = len(per_file)
        names = [f"model-{i + 1:05d}-of-{count:05d}.safetensors" for i in range(count)]
        if sorted(per_file) != names:
            fail(f"shard names {sorted(per_file)}")
        if shards is not None and [sorted(s) for s in shards] != [sorted(per_file[f]) for f in names]:
            fail(f"shards {[sorted(per_file[f]) for f in names]} are not the greedy split for {limit} bytes")
    elif limit and sum(len(t[2]) for t in tensors.values()) > limit:
        fail(f"one file of {sum(len(t[2]) for t in tensors.values())} bytes above the limit {limit}")
    print(f"layout ok: {arch} {dtype}, {len(tensors)} tensors in {len(per_file)} file(s)"
          + (f", index total_size {index['metadata']['total_size']}" if index else ""))


def rne(values, dtype):
    if dtype == "F16":
        return values.astype("<f2").tobytes()
    bits = values.view(np.uint32).astype(np.uint64)
    return (((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")).tobytes()


def rounded(f32_dir, low_dir, out_dir):
    full, _, _ = read_folder(f32_dir)
    low, _, _ = read_folder(low_dir)
    os.makedirs(out_dir, exist_ok=True)
    decoded = []
    for name, (dtype, shape, raw) in sorted(low.items()):
        if rne(decode(*full[name]), dtype) != raw:
            fail(f"{name}: {dtype} bytes are not the F32 export's values rounded to nearest even")
        decoded.append((name, decode(dtype, shape, raw).astype(np.float64)))
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(hf_reference.safetensors_bytes(decoded, "F32"))
    cfg = json.load(open(os.path.join(low_dir, "config.json")))
    cfg["torch_dtype"] = "float32"
    json.dump(cfg, open(os.path.join(out_dir, "config.json"), "w"), indent=2)
    print(f"rounded ok: {len(low)} tensors are the F32 values rounded to nearest even")


def reference(folder, tokens, out):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    tensors, _, _ = read_folder(folder)
    w = {n: torch.tensor(decode(*t).astype(np.float64)) for n, t in tensors.items()}
    ids = [int(t) for t in tokens.split(",")]
    probs = hf_reference.forward(cfg, cfg["architectures"][0], w, ids)
    json.dump({"tokens": ids, "probs": probs.tolist()}, open(out, "w"))


def maxdiff(a, b):
    pa, pb = (np.array(json.load(open(p))["probs"]) for p in (a, b))
    print(f"{np.abs(pa - pb).max():.3e}")


MERGES = [("▁", "t"), ("h", "e"), ("▁t", "he"), ("i", "n"), ("▁", "a"), ("▁a", "n"), ("e", "r"), ("o", "n"),
          ("▁", "o"), ("▁o", "n"), ("e", "s"), ("▁", "s"), ("a", "t"), ("▁", "c"), ("▁c", "at"), ("▁", "d"),
          ("o", "g"), ("▁d", "og")]


def tokenizer(folder, corpus):
    tokens = ["<unk>", "<s>", "</s>", "▁"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + [a + b for a, b in MERGES]
    assert len(tokens) <= 64
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(tokens[:3])]
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
         "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
         "pre_tokenizer": None, "post_processor": None, "decoder": None,
         "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": False,
                   "vocab": {t: i for i, t in enumerate(tokens)}, "merges": [f"{a} {b}" for a, b in MERGES]}}
    json.dump(j, open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    words = ["the", "cat", "dog", "on", "an", "sat", "in", "then", "under", "its", "star", "dogs", "cats", "ones"]
    rng = np.random.default_rng(11)
    open(corpus, "w").write(" ".join(words[i] for i in rng.integers(0, len(words), 6000)) + "\n")


def main(argv):
    if argv[1] == "layout":
        layout(argv[2], int(argv[3]) if len(argv) > 3 else None)
    elif argv[1] == "rounded":
        rounded(argv[2], argv[3], argv[4])
    elif argv[1] == "reference":
        reference(argv[2], argv[3], argv[4])
    elif argv[1] == "tokenizer":
        tokenizer(argv[2], argv[3])
    elif argv[1] == "maxdiff":
        maxdiff(argv[2], argv[3])
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
