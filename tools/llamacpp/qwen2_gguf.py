"""Helpers of qwen2_gguf.sh (run with /usr/bin/python3: numpy; no qforge code).

  qwen2_gguf.py truncate IN.json OUT.json N   a byte-level tokenizer.json cut to its first N tokens: the merges
                                              whose parts and result are all kept, then <|endoftext|> as id N
                                              (Qwen2's ids follow merge rank, so the cut vocabulary is a
                                              consistent BPE, just shorter)
  qwen2_gguf.py check FILE.gguf               the keys and tensors docs/gguf.md §13/§14 promise, read with
                                              llama.cpp's own gguf-py (PYTHONPATH=<llama.cpp>/gguf-py)
  qwen2_gguf.py u32 TOKENS.json OUT.u32      `qforge tokenize` JSON -> a little-endian u32 token file
"""
import json
import sys


def truncate(source, target, n):
    tok = json.load(open(source, encoding="utf-8"))
    vocab = {text: i for text, i in tok["model"]["vocab"].items() if i < n}
    merges = []
    for merge in tok["model"]["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        if left in vocab and right in vocab and left + right in vocab:
            merges.append([left, right])
    tok["model"]["vocab"] = vocab
    tok["model"]["merges"] = merges
    tok["added_tokens"] = [dict(id=n, content="<|endoftext|>", single_word=False, lstrip=False, rstrip=False,
                                normalized=False, special=True)]
    json.dump(tok, open(target, "w", encoding="utf-8"), ensure_ascii=False)
    print(f"tokenizer: {len(vocab)} tokens, {len(merges)} merges, <|endoftext|> = {n}")


def check(path):
    import gguf  # llama.cpp's gguf-py
    reader = gguf.GGUFReader(path)

    def value(key):
        field = reader.fields[key]
        return field.contents()

    failures = []
    expect = {"general.architecture": "qwen2", "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
              "tokenizer.ggml.add_bos_token": False}
    for key, want in expect.items():
        if value(key) != want:
            failures.append(f"{key} = {value(key)!r}, expected {want!r}")
    names = {t.name: t for t in reader.tensors}
    blocks = value("qwen2.block_count")
    for i in range(blocks):
        for part in ("attn_q.bias", "attn_k.bias", "attn_v.bias"):
            t = names.get(f"blk.{i}.{part}")
            if t is None or t.tensor_type != gguf.GGMLQuantizationType.F32:
                failures.append(f"blk.{i}.{part} missing or not F32")
    n_tokens = len(value("tokenizer.ggml.tokens"))
    if n_tokens != value("qwen2.vocab_size") or names["token_embd.weight"].shape[1] != n_tokens:
        failures.append("token count, qwen2.vocab_size and token_embd rows differ")
    if len(value("tokenizer.ggml.merges")) == 0:
        failures.append("no merges")
    print(("FAILED " if failures else "ok     ") + f"gguf-py reads {path.rsplit('/', 1)[-1]}: arch qwen2, gpt2 vocabulary "
          f"({n_tokens} tokens, {len(value('tokenizer.ggml.merges'))} merges), {blocks} blocks with q/k/v biases"
          + ("; " + "; ".join(failures) if failures else ""))
    sys.exit(1 if failures else 0)


def u32(tokens_json, target):
    import numpy as np
    ids = json.load(open(tokens_json))["tokens"]
    np.asarray(ids, dtype="<u4").tofile(target)
    print(f"{len(ids)} tokens")


if __name__ == "__main__":
    {"truncate": lambda a: truncate(a[0], a[1], int(a[2])), "check": lambda a: check(a[0]),
     "u32": lambda a: u32(a[0], a[1])}[sys.argv[1]](sys.argv[2:])
