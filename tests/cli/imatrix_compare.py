#!/usr/bin/python3
"""What imatrix_export.sh's files encode, read here with the GGUF v3 layout (docs/gguf.md) and llama.cpp's
legacy .dat layout, independently of qforge's C++ readers.

  imatrix_compare.py imatrix IM.gguf IM.dat      the two imatrix files hold the same importance: for every
                                                 tensor, .dat's values / ncall = GGUF's in_sum2 / counts
                                                 (relative 1e-5), the same tensors
  imatrix_compare.py blocks A.gguf B.gguf        the same tensors, types and shapes; the share of differing
                                                 144-byte Q4_K / 210-byte Q6_K blocks is at most 2%
"""
import struct
import sys

import numpy as np

SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
BLOCK = {0: (1, 4), 1: (1, 2), 8: (32, 34), 12: (256, 144), 14: (256, 210), 30: (1, 2)}  # type: (elements, bytes)


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value[0]

    def string(self):
        n = self.take("<Q")
        text = self.data[self.at:self.at + n].decode()
        self.at += n
        return text

    def value(self, kind):
        if kind == 8:
            return self.string()
        if kind == 9:
            inner, n = self.take("<I"), self.take("<Q")
            return [self.value(inner) for _ in range(n)]
        return self.take(SCALAR[kind])


def read_gguf(path):
    """{name: (type, shape, bytes)} and the key-value pairs of a GGUF v3 file."""
    data = open(path, "rb").read()
    r = Reader(data)
    assert data[:4] == b"GGUF" and r.take("<4s") and r.take("<I") == 3, f"{path}: not GGUF v3"
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    kv = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        infos.append((name, dims, r.take("<I"), r.take("<Q")))
    alignment = kv.get("general.alignment", 32)
    base = (r.at + alignment - 1) // alignment * alignment
    tensors = {}
    for name, dims, kind, offset in infos:
        per_block, size = BLOCK[kind]
        n = int(np.prod(dims))
        tensors[name] = (kind, dims, data[base + offset:base + offset + n // per_block * size])
    return tensors, kv


def read_dat(path):
    """llama.cpp's legacy imatrix: int32 count, then per entry name, ncall, values (mean x^2 * ncall)."""
    r = Reader(open(path, "rb").read())
    entries = {}
    for _ in range(r.take("<i")):
        length = r.take("<i")
        name = r.data[r.at:r.at + length].decode()
        r.at += length
        ncall, n = r.take("<i"), r.take("<i")
        entries[name] = (ncall, np.frombuffer(r.data, np.float32, n, r.at).astype(np.float64))
        r.at += 4 * n
    return entries


def compare_imatrix(gguf_path, dat_path):
    tensors, _ = read_gguf(gguf_path)
    dat = read_dat(dat_path)
    names = sorted(n[:-len(".in_sum2")] for n in tensors if n.endswith(".in_sum2"))
    assert names == sorted(dat), f"tensors differ: {names} vs {sorted(dat)}"
    worst = 0.0
    for name in names:
        in_sum2 = np.frombuffer(tensors[name + ".in_sum2"][2], np.float32).astype(np.float64)
        counts = np.frombuffer(tensors[name + ".counts"][2], np.float32).astype(np.float64)
        ncall, values = dat[name]
        mean_gguf, mean_dat = in_sum2 / counts[0], values / ncall
        rel = np.max(np.abs(mean_gguf - mean_dat) / np.maximum(np.abs(mean_gguf), 1e-30))
        assert rel <= 1e-5, f"{name}: importance differs by {rel:.3g} relative"
        worst = max(worst, rel)
    print(f"imatrix agree: {len(names)} tensors, mean x^2 equal within {worst:.2g} relative")


def compare_blocks(a_path, b_path):
    a, _ = read_gguf(a_path)
    b, _ = read_gguf(b_path)
    assert sorted(a) == sorted(b), "different tensors"
    blocks = differing = 0
    for name, (kind, dims, data) in a.items():
        kind_b, dims_b, data_b = b[name]
        assert (kind, dims) == (kind_b, dims_b), f"{name}: type/shape {kind} {dims} vs {kind_b} {dims_b}"
        size = BLOCK[kind][1]
        if kind not in (12, 14):
            assert data == data_b, f"{name}: type {kind} tensors differ"
            continue
        x = np.frombuffer(data, np.uint8).reshape(-1, size)
        y = np.frombuffer(data_b, np.uint8).reshape(-1, size)
        blocks += len(x)
        differing += int(np.any(x != y, axis=1).sum())
    assert blocks > 0 and differing <= 0.02 * blocks, f"{differing} of {blocks} k-quant blocks differ"
    print(f"blocks agree: {blocks - differing} of {blocks} k-quant blocks identical, other tensors identical")


if __name__ == "__main__":
    {"imatrix": compare_imatrix, "blocks": compare_blocks}[sys.argv[1]](sys.argv[2], sys.argv[3])
