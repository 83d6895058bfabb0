"""numpy reference for tests/fakequant/test_observers_kl.cpp: TensorRT's KL-divergence calibration
(Migacz 2017, "8-bit Inference with TensorRT") written out independently of the C++ observer,
with the same documented choices (fakequant/observers/kl_observer.h): a float32 histogram of |x|
over [0, R], R = first max|x|, grown by the smallest integer factor k (merging k bins) when a
batch exceeds it; candidates i = L..bins, P = hist[:i] plus the outliers in its last bin,
Q = hist[:i] merged into L levels (bin j -> j * L // i) spread over the non-empty bins,
first argmin of KL(P || Q), threshold = min((i + 0.5) * R / bins, max|x|). Sums run left to
right (np.cumsum) like the C++ loops so the divergences agree to the last bit or two.

Request per case <c>: kl/<c>/batch<k> (float32 values), kl/<c>/config [bins, levels, batches].
Answer: kl/<c>/hist, kl/<c>/range [1], kl/<c>/chosen_bin [1], kl/<c>/threshold [1],
kl/<c>/margin [1] (relative KL gap between the best and the second-best candidate).
"""
import math
import struct
import sys

import numpy as np


# QFT1 (tests/support/tensor_file.h) with numpy alone: importing torch would triple the run time.
def read_qft(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"QFT1", path
    (count,) = struct.unpack_from("<I", data, 4)
    pos, records = 8, {}
    for _ in range(count):
        kind, n = data[pos], struct.unpack_from("<I", data, pos + 1)[0]
        name = data[pos + 5 : pos + 5 + n].decode()
        pos += 5 + n
        if kind == 1:
            (n,) = struct.unpack_from("<I", data, pos)
            pos += 4 + n
            continue
        (ndim,) = struct.unpack_from("<I", data, pos)
        dims = struct.unpack_from(f"<{ndim}q", data, pos + 4)
        pos += 4 + 8 * ndim
        numel = math.prod(dims)
        records[name] = np.frombuffer(data, dtype="<f8", count=numel, offset=pos).reshape(dims)
        pos += 8 * numel
    return records


def write_qft(path, records):
    with open(path, "wb") as f:
        f.write(b"QFT1" + struct.pack("<I", len(records)))
        for name, value in records.items():
            value = np.ascontiguousarray(value, dtype="<f8")
            encoded = name.encode()
            f.write(struct.pack("<BI", 0, len(encoded)) + encoded)
            f.write(struct.pack(f"<I{value.ndim}q", value.ndim, *value.shape))
            f.write(value.tobytes())


def seqsum(a):
    return float(np.cumsum(a)[-1]) if len(a) else 0.0


class Histogram:
    def __init__(self, bins):
        self.bins = bins
        self.hist = np.zeros(bins, dtype=np.float32)
        self.range = np.float32(0.0)
        self.absmax = np.float32(0.0)

    def grow(self, absmax):
        if self.range == 0:
            self.range = absmax
            return
        if absmax <= self.range:
            return
        factor = int(math.ceil(float(absmax) / float(self.range)))
        while np.float32(factor) * self.range < absmax:
            factor += 1
        merged = np.zeros(self.bins, dtype=np.float32)
        np.add.at(merged, np.arange(self.bins) // factor, self.hist)
        self.hist = merged
        self.range = np.float32(np.float32(factor) * self.range)

    def observe(self, x):
        x = x.astype(np.float32)
        batch_absmax = np.float32(np.abs(x).max())
        self.absmax = max(self.absmax, batch_absmax)
        self.grow(batch_absmax)
        width = float(self.range) / self.bins
        index = np.floor(np.abs(x).astype(np.float64) / width) if width > 0 else np.zeros(x.size)
        index = np.minimum(index.astype(np.int64), self.bins - 1)
        self.hist = (self.hist + np.bincount(index, minlength=self.bins).astype(np.float32)).astype(np.float32)


def divergence(hist, i, levels):
    h = hist.astype(np.float64)
    p = h[:i].copy()
    p[i - 1] += seqsum(h[i:])
    level = (np.arange(i, dtype=np.int64) * levels) // i
    mass = np.bincount(level, weights=h[:i], minlength=levels)  # adds in bin order, like the C++ loop
    nonzero = np.bincount(level, weights=(h[:i] != 0).astype(np.float64), minlength=levels)
    q = np.where(h[:i] != 0, mass[level] / np.maximum(nonzero[level], 1), 0.0)
    p_total, q_total = seqsum(p), seqsum(q)
    if q_total == 0.0:
        return math.inf
    mask = p > 0
    if np.any(q[mask] == 0):
        return math.inf
    pj, qj = p[mask] / p_total, q[mask] / q_total
    return seqsum(pj * np.log(pj / qj))


def calibrate(request, case, answer):
    key = f"kl/{case}/"
    bins, levels, batches = (int(v) for v in request[key + "config"].tolist())
    histogram = Histogram(bins)
    for k in range(batches):
        histogram.observe(request[f"{key}batch{k}"])
    start = min(levels, bins)
    divergences = np.array([divergence(histogram.hist, i, levels) for i in range(start, bins + 1)])
    best = int(np.argmin(divergences))
    ordered = np.sort(divergences)
    width = float(histogram.range) / bins
    threshold = min(np.float32((start + best + 0.5) * width), histogram.absmax)
    answer[key + "hist"] = histogram.hist.astype(np.float64)
    answer[key + "range"] = np.array([histogram.range], dtype=np.float64)
    answer[key + "chosen_bin"] = np.array([start + best], dtype=np.float64)
    answer[key + "threshold"] = np.array([threshold], dtype=np.float64)
    answer[key + "margin"] = np.array([(ordered[1] - ordered[0]) / ordered[0]])


def main():
    request = read_qft(sys.argv[1])
    answer = {}
    for case in sorted({name.split("/")[1] for name in request if name.startswith("kl/")}):
        calibrate(request, case, answer)
    write_qft(sys.argv[2], answer)


if __name__ == "__main__":
    main()
