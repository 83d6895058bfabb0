"""Independent numpy decoders of the ggml block layouts Q4_0, Q4_1, Q5_1, Q2_K, Q3_K, Q5_K, IQ4_XS, TQ1_0,
TQ2_0 and the grid types IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M (docs/gguf.md §6, from
ggml-common.h's structs), checked against llama.cpp's own dequantization of the golden files
llama-quantize wrote (tests/golden/llama_quantize/dequant_fnv.txt, made by make.sh there; qforge's
decoders are checked against the same hashes by exporters.test_llama_quantize_golden). Every operation is
a float32 numpy operation in the order of ggml-quants.c's dequantize_row_<type> (one rounding each).
The grids are expanded here from the packed points of fakequant/formats/ggml/iq_grids.cpp with this
file's own level maps, and each expanded table is first checked against the hash of llama.cpp's
(grid_fnv.txt).
usage: /usr/bin/python3 ggml_dequant_reference.py GOLDEN_DIR
"""
import os
import re
import struct
import sys

import numpy as np

F32 = np.float32
GGML = {0: "f32", 2: "q4_0", 3: "q4_1", 6: "q5_0", 7: "q5_1", 8: "q8_0", 10: "q2_K", 11: "q3_K", 12: "q4_K",
        13: "q5_K", 14: "q6_K", 16: "iq2_xxs", 17: "iq2_xs", 18: "iq3_xxs", 19: "iq1_s", 20: "iq4_nl", 21: "iq3_s",
        22: "iq2_s", 23: "iq4_xs", 29: "iq1_m", 34: "tq1_0", 35: "tq2_0"}
BLOCK = {"q4_0": (32, 18), "q4_1": (32, 20), "q5_0": (32, 22), "q5_1": (32, 24), "q8_0": (32, 34),
         "q2_K": (256, 84), "q3_K": (256, 110), "q4_K": (256, 144), "q5_K": (256, 176), "q6_K": (256, 210),
         "f32": (1, 4), "iq4_nl": (32, 18), "iq4_xs": (256, 136), "tq1_0": (256, 54), "tq2_0": (256, 66),
         "iq2_xxs": (256, 66), "iq2_xs": (256, 74), "iq2_s": (256, 82), "iq3_xxs": (256, 98), "iq3_s": (256, 110),
         "iq1_s": (256, 50), "iq1_m": (256, 56)}


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



KVALUES_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], F32)


def iq4_xs(b):
    d = f16(b, 0)
    scales_h = b[:, 2:4].copy().view("<u2").astype(np.int32)  # (n, 1)
    scales_l, qs = b[:, 4:8].astype(np.int32), b[:, 8:136].astype(np.int32)
    ib = E // 32
    ls = ((scales_l[:, ib // 2] >> (4 * (ib % 2))) & 15) | (((scales_h >> (2 * ib)) & 3) << 4)
    dl = d * (ls - 32).astype(F32)
    byte = qs[:, 16 * ib + E % 16]
    return dl * KVALUES_IQ4NL[np.where(E % 32 < 16, byte & 15, byte >> 4)]


def tq1_0(b):
    qs, qh, d = b[:, 0:48].astype(np.int32), b[:, 48:52].astype(np.int32), f16(b, 52)
    # element -> (byte, trit position n): 32-byte run (elements 0..159), 16-byte run (160..239), qh (240..255)
    byte = np.where(E < 160, E % 32, np.where(E < 240, 32 + (E - 160) % 16, 48 + (E - 240) % 4))
    n = np.where(E < 160, E // 32, np.where(E < 240, (E - 160) // 16, (E - 240) // 4))
    packed = np.concatenate([qs, qh], axis=1)[:, byte]
    q = (packed * 3 ** n) & 255
    return ((q * 3 >> 8) - 1).astype(F32) * d


def tq2_0(b):
    qs, d = b[:, 0:64].astype(np.int32), f16(b, 64)
    g, n, m = E // 128, (E % 128) // 32, E % 32
    return (((qs[:, 32 * g + m] >> (2 * n)) & 3) - 1).astype(F32) * d


def read_points(source):
    """The packed grid points of qforge's iq_grids.cpp: name -> list of uint16."""
    text = open(source).read()
    return {m.group(1): [int(v) for v in re.findall(r"\d+", m.group(2))]
            for m in re.finditer(r"constexpr uint16_t (kIndex\w+)\[\d+\] = \{(.*?)\};", text, re.S)}


def expand(points, bits, levels, coordinates):
    """(grid size, coordinates) array of level values of each point."""
    p = np.array(points, np.int64)[:, None]
    return np.array(levels, np.int64)[(p >> (bits * np.arange(coordinates))) & ((1 << bits) - 1)]


def table_hash(values, dtype):
    return fnv1a_bytes(np.ascontiguousarray(values.astype(dtype)).tobytes())


GRIDS = {}


def load_grids(golden):
    """Grids from the packed points with this file's level maps, each checked against llama.cpp's hash."""
    points = read_points(os.path.join(golden, "../../../fakequant/formats/ggml/iq_grids.cpp"))
    want = {line.split()[0]: line.split()[2] for line in open(golden + "/grid_fnv.txt")}
    iq2 = [8, 25, 43, 0]
    specs = {"iq2xxs_grid": ("kIndexIQ2XXS", 2, iq2, 8, np.uint8), "iq2xs_grid": ("kIndexIQ2XS", 2, iq2, 8, np.uint8),
             "iq2s_grid": ("kIndexIQ2S", 2, iq2, 8, np.uint8), "iq1s_grid": ("kIndexIQ1S", 2, [-1, 0, 1, 0], 8, np.int8),
             "iq3xxs_grid": ("kIndexIQ3XXS", 3, [4, 12, 20, 28, 36, 44, 52, 62], 4, np.uint8),
             "iq3s_grid": ("kIndexIQ3S", 3, [1, 3, 5, 7, 9, 11, 13, 15], 4, np.uint8)}
    bad = 0
    for name, (index, bits, levels, coordinates, dtype) in specs.items():
        GRIDS[name] = expand(points[index], bits, levels, coordinates).astype(F32)
        if table_hash(GRIDS[name], dtype) != want[name]:
            print("GRID MISMATCH %s" % name)
            bad += 1
    signs = np.arange(128)
    signs = signs | ((np.array([bin(i).count("1") for i in range(128)]) & 1) << 7)
    if table_hash(signs, np.uint8) != want["ksigns_iq2xs"]:
        print("GRID MISMATCH ksigns_iq2xs")
        bad += 1
    GRIDS["ksigns"] = signs
    return bad


def sign_of(bits, j):
    """+1 / -1 for sign bit j (kmask_iq2xs[j] = 1 << j) of an 8-element group."""
    return np.where((bits >> j) & 1, F32(-1), F32(1))


def iq2_scaled(d, s):
    return d * (F32(0.5) + s.astype(F32)) * F32(0.25)


def iq2_xxs(b):
    d = f16(b, 0)
    aux = b[:, 2:66].copy().view("<u4").astype(np.int64)  # (n, 16): per block of 32 two u32
    ib, l, j = E // 32, (E % 32) // 8, E % 8
    grid_index = (aux[:, 2 * ib] >> (8 * l)) & 255
    signs = GRIDS["ksigns"][(aux[:, 2 * ib + 1] >> (7 * l)) & 127]
    db = iq2_scaled(d, aux[:, 2 * ib + 1] >> 28)
    return db * GRIDS["iq2xxs_grid"][grid_index, j] * sign_of(signs, j)


def iq2_xs(b):
    d, qs, scales = f16(b, 0), b[:, 2:66].copy().view("<u2").astype(np.int64), b[:, 66:74].astype(np.int64)
    ib, l, j = E // 32, (E % 32) // 8, E % 8
    q = qs[:, 4 * ib + l]
    db = iq2_scaled(d, (scales[:, ib] >> (4 * (l // 2))) & 15)
    return db * GRIDS["iq2xs_grid"][q & 511, j] * sign_of(GRIDS["ksigns"][q >> 9], j)


def iq2_s(b):
    d, qs, qh, scales = f16(b, 0), b[:, 2:66].astype(np.int64), b[:, 66:74].astype(np.int64), b[:, 74:82].astype(np.int64)
    ib, l, j = E // 32, (E % 32) // 8, E % 8
    index = qs[:, 4 * ib + l] | (((qh[:, ib] >> (2 * l)) & 3) << 8)
    db = iq2_scaled(d, (scales[:, ib] >> (4 * (l // 2))) & 15)
    return db * GRIDS["iq2s_grid"][index, j] * sign_of(qs[:, 32 + 4 * ib + l], j)


def iq3_xxs(b):
    d, qs = f16(b, 0), b[:, 2:66].astype(np.int64)
    aux = b[:, 66:98].copy().view("<u4").astype(np.int64)  # (n, 8)
    ib, l, j = E // 32, (E % 32) // 8, E % 8
    index = qs[:, 8 * ib + 2 * l + j // 4]
    db = d * (F32(0.5) + (aux[:, ib] >> 28).astype(F32)) * F32(0.5)
    signs = GRIDS["ksigns"][(aux[:, ib] >> (7 * l)) & 127]
    return db * GRIDS["iq3xxs_grid"][index, j % 4] * sign_of(signs, j)


def iq3_s(b):
    d, qs, qh = f16(b, 0), b[:, 2:66].astype(np.int64), b[:, 66:74].astype(np.int64)
    signs, scales = b[:, 74:106].astype(np.int64), b[:, 106:110].astype(np.int64)
    ib, l, j = E // 32, (E % 32) // 8, E % 8
    k = 2 * l + j // 4  # grid entry within the block: its high bit is bit k of qh[ib]
    index = qs[:, 8 * ib + k] | (((qh[:, ib] >> k) & 1) << 8)
    db = d * (1 + 2 * ((scales[:, ib // 2] >> (4 * (ib % 2))) & 15)).astype(F32)
    return db * GRIDS["iq3s_grid"][index, j % 4] * sign_of(signs[:, 4 * ib + l], j)


def iq1_s(b):
    d, qs, qh = f16(b, 0), b[:, 2:34].astype(np.int64), b[:, 34:50].copy().view("<u2").astype(np.int64)
    ib, l, j = E // 32, (E % 32) // 8, E % 8
    h = qh[:, ib]
    dl = d * (2 * ((h >> 12) & 7) + 1).astype(F32)
    delta = np.where(h & 0x8000, F32(-0.125), F32(0.125))
    index = qs[:, 4 * ib + l] | (((h >> (3 * l)) & 7) << 8)
    return dl * (GRIDS["iq1s_grid"][index, j] + delta)


def iq1_m(b):
    qs, qh = b[:, 0:32].astype(np.int64), b[:, 32:48].astype(np.int64)
    sc = b[:, 48:56].copy().view("<u2").astype(np.int64)  # (n, 4)
    d16 = (sc[:, 0:1] >> 12) | ((sc[:, 1:2] >> 8) & 0xF0) | ((sc[:, 2:3] >> 4) & 0xF00) | (sc[:, 3:4] & 0xF000)
    d = d16.astype(np.uint16).view(np.float16).astype(F32)
    ib, l, j = E // 32, (E % 32) // 8, E % 8
    s = (sc[:, ib // 2] >> (6 * (ib % 2) + 3 * (l // 2))) & 7
    dl = d * (2 * s + 1).astype(F32)
    h = (qh[:, 2 * ib + l // 2] >> (4 * (l % 2))) & 15  # this group's nibble: 3 index bits, shift sign
    delta = np.where(h & 8, F32(-0.125), F32(0.125))
    index = qs[:, 4 * ib + l] | ((h & 7) << 8)
    return dl * (GRIDS["iq1s_grid"][index, j] + delta)


DECODERS = {"q4_0": q4_0, "q4_1": q4_1, "q5_1": q5_1, "q2_K": q2_K, "q3_K": q3_K, "q5_K": q5_K, "iq4_xs": iq4_xs,
            "tq1_0": tq1_0, "tq2_0": tq2_0, "iq2_xxs": iq2_xxs, "iq2_xs": iq2_xs, "iq2_s": iq2_s, "iq3_xxs": iq3_xxs,
            "iq3_s": iq3_s, "iq1_s": iq1_s, "iq1_m": iq1_m}


def fnv1a_bytes(data):
    h = 0xcbf29ce484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def fnv1a(values):
    return fnv1a_bytes(values.astype("<f4").tobytes())


def main(golden):
    expected = {}
    for line in open(golden + "/dequant_fnv.txt"):
        file, tensor, kind, n, digest = line.split()
        expected[(file, tensor)] = (kind, int(n), digest)
    checked, mismatches = {}, load_grids(golden)
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
