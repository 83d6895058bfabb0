"""Compares two `qforge probs` JSON outputs (tests/cli/gguf_presets.sh): same rows and vocabulary,
every row of the second sums to 1, max |p_a - p_b| in (0, bound) (or below bound when exact=0 is
allowed, i.e. bound < 1e-4). Prints "NAME: max_abs_dp=... bytes=..."."""
import json
import sys


def rows(path):
    return json.load(open(path))["probs"]


def main():
    ref_path, got_path, name, size = sys.argv[1:5]
    bound = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05
    ref, got = rows(ref_path), rows(got_path)
    assert len(ref) == len(got) > 0, f"{name}: {len(ref)} vs {len(got)} rows"
    assert all(len(r) == len(g) for r, g in zip(ref, got)), f"{name}: vocabulary sizes differ"
    for g in got:
        assert abs(sum(g) - 1) < 1e-4, f"{name}: a row sums to {sum(g)}"
    worst = max(abs(a - b) for r, g in zip(ref, got) for a, b in zip(r, g))
    print(f"{name}: max_abs_dp={worst:.6f} bytes={size}")
    if not worst < bound or (bound >= 1e-4 and worst == 0):
        print(f"FAILED {name}: max |dp| {worst} outside {'[0' if bound < 1e-4 else '(0'}, {bound})")
        sys.exit(1)


if __name__ == "__main__":
    main()
