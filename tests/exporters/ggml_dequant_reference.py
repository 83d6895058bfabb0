"""Independent numpy decoders of the ggml block layouts Q4_0, Q4_1, Q5_1, Q2_K, Q3_K, Q5_K (docs/gguf.md §6,
from ggml-common.h's structs), checked against llama.cpp's own dequantization of the golden files
llama-quantize wrote (tests/golden/llama_quantize/dequant_fnv.txt, made by make.sh there; qforge's
decoders are checked against the same hashes by exporters.test_llama_quantize_golden). Every operation is
a float32 numpy operation in the order of ggml-quants.c's dequantize_row_<type> (one rounding each).
usage: /usr/bin/python3 ggml_dequant_reference.py GOLDEN_DIR
"""
import struct
import sys

import numpy as np

F32 = np.float32
GGML = {0: "f32", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 10: "q2_K", 11: "q3_K", 12: "q4_K",
        13: "q5_K", 14: "q6_K"}
BLOCK = {"q4_0": (32, 18), "q4_1": (32, 20), "q5_0": (32, 22), "q5_1": (32, 24), "q8_0": (32, 34),
         "q2_K": (256, 84), "q3_K": (256, 110), "q4_K": (256, 144), "q5_K": (256, 176), "q6_K": (256, 210),
         "f32": (1, 4)}


def read_gguf(path):
    """(name, type name, element count, raw bytes) per tensor of a GGUF v3 file."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string():
        nonlocal pos
        (n,) = take("Q")
        pos += n
        return data[pos - n:pos].decode()

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(kind):
        if kind == 8:
            return string()
        if kind == 9:
            item, n = take("IQ")
            return [value(item) for _ in range(n)]
        return take(scalar[kind])[0]

    assert data[:4] == b"GGUF"
    pos = 4
    _, n_tensors, n_kv = take("IQQ")
    alignment = 32
    for _ in range(n_kv):
        key = string()
        (kind,) = take("I")
        v = value(kind)
        if key == "general.alignment":
            alignment = v
    infos = []
    for _ in range(n_tensors):
        name = string()
        (n_dims,) = take("I")
        dims = take("Q" * n_dims)
        kind, offset = take("IQ")
        infos.append((name, GGML[kind], int(np.prod(dims)), offset))
    start = (pos + alignment - 1) // alignment * alignment
    tensors = []
    for name, kind, n, offset in infos:
        elements, size = BLOCK[kind]
        tensors.append((name, kind, n, data[start + offset:start + offset + n // elements * size]))
    return tensors


def f16(blocks, at):
    return blocks[:, at:at + 2].copy().view("<f2").astype(F32)  # (n, 1), exact


def q4_0(b):
    d, qs = f16(b, 0), b[:, 2:18].astype(np.int32)
    q = np.concatenate([(qs & 15) - 8, (qs >> 4) - 8], axis=1)
    return q.astype(F32) * d


def q4_1(b):
    d, m, qs = f16(b, 0), f16(b, 2), b[:, 4:20].astype(np.int32)
    q = np.concatenate([qs & 15, qs >> 4], axis=1)
    return q.astype(F32) * d + m


def q5_1(b):
    d, m = f16(b, 0), f16(b, 2)
    qh = b[:, 4:8].copy().view("<u4").astype(np.int64)  # (n, 1)
    qs = b[:, 8:24].astype(np.int64)
    j = np.arange(32)
    high = (qh >> j) & 1
    q = np.concatenate([qs & 15, qs >> 4], axis=1) | (high << 4)
    return q.astype(F32) * d + m


E = np.arange(256)
H, S, L = E // 128, (E % 128) // 32, E % 32  # Q2_K / Q3_K: element 128h + 32s + l, bits 2s of qs[32h + l]


def q2_K(b):
    scales, qs = b[:, 0:16].astype(np.int32), b[:, 16:80].astype(np.int32)
    d, dmin = f16(b, 80), f16(b, 82)
    q = (qs[:, 32 * H + L] >> (2 * S)) & 3
    sub = scales[:, E // 16]
    dl, ml = d * (sub & 15).astype(F32), dmin * (sub >> 4).astype(F32)
    return dl * q.astype(F32) - ml


def q3_K_codes(scales):
    j = np.arange(16)
    low = np.where(j < 8, scales[:, j % 8] & 15, scales[:, j % 8] >> 4)
    return low | (((scales[:, 8 + j % 4] >> (2 * (j // 4))) & 3) << 4)


def q3_K(b):
    hmask, qs = b[:, 0:32].astype(np.int32), b[:, 32:96].astype(np.int32)
    codes, d = q3_K_codes(b[:, 96:108].astype(np.int32)), f16(b, 108)
    low = (qs[:, 32 * H + L] >> (2 * S)) & 3
    high = (hmask[:, E % 32] >> (E // 32)) & 1
    dl = d * (codes[:, E // 16] - 32).astype(F32)
    return dl * (low - np.where(high == 1, 0, 4)).astype(F32)


def scale_min_k4(scales):
    """The 6-bit (sc, m) of the 8 sub-blocks (get_scale_min_k4), each (n, 8)."""
    j = np.arange(4)
    sc = np.concatenate([scales[:, j] & 63, (scales[:, j + 8] & 15) | ((scales[:, j] >> 6) << 4)], axis=1)
    m = np.concatenate([scales[:, j + 4] & 63, (scales[:, j + 8] >> 4) | ((scales[:, j + 4] >> 6) << 4)], axis=1)
    return sc, m


def q5_K(b):
    d, dmin = f16(b, 0), f16(b, 2)
    sc, m = scale_min_k4(b[:, 4:16].astype(np.int32))
    qh, qs = b[:, 16:48].astype(np.int32), b[:, 48:176].astype(np.int32)
    c, upper, l = E // 64, (E % 64) // 32, E % 32
    low = (qs[:, 32 * c + l] >> (4 * upper)) & 15
    high = (qh[:, l] >> (2 * c + upper)) & 1
    d1, m1 = d * sc[:, E // 32].astype(F32), dmin * m[:, E // 32].astype(F32)
    return d1 * (low + 16 * high).astype(F32) - m1


DECODERS = {"q4_0": q4_0, "q4_1": q4_1, "q5_1": q5_1, "q2_K": q2_K, "q3_K": q3_K, "q5_K": q5_K}


def fnv1a(values):
    h = 0xcbf29ce484222325
    for byte in values.astype("<f4").tobytes():
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def main(golden):
    expected = {}
    for line in open(golden + "/dequant_fnv.txt"):
        file, tensor, kind, n, digest = line.split()
        expected[(file, tensor)] = (kind, int(n), digest)
    checked, mismatches = {}, 0
    for file in sorted({f for f, _ in expected}):
        for name, kind, n, raw in read_gguf(golden + "/" + file):
            want_kind, want_n, digest = expected[(file, name)]
            assert (kind, n) == (want_kind, want_n), (file, name, kind, n, want_kind, want_n)
            if kind not in DECODERS:
                continue
            elements, size = BLOCK[kind]
            blocks = np.frombuffer(raw, np.uint8).reshape(-1, size)
            got = fnv1a(DECODERS[kind](blocks).reshape(-1))
            checked[kind] = checked.get(kind, 0) + 1
            if got != digest:
                mismatches += 1
                print("MISMATCH %s %s (%s): numpy %s, llama.cpp %s" % (file, name, kind, got, digest))
    print("tensors decoded bit-identically to llama.cpp: " +
          ", ".join("%s %d" % (k, checked[k]) for k in sorted(checked)) + "; mismatches %d" % mismatches)
    return 1 if mismatches or set(checked) != set(DECODERS) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
