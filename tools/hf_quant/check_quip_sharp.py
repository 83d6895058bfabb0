"""Manual check (not in CI): quip-sharp's own E8P12 codebook and Qidxs packing against qforge's numpy
reference.

    /usr/bin/python3 tools/hf_quant/check_quip_sharp.py QUIP_SHARP_GIT_DIR [REV]

QUIP_SHARP_GIT_DIR is a git repository of Cornell-RelaxML/quip-sharp (a bare clone is enough).
get_norm12, get_packed_abs_grid, get_full_grid and E8P12_codebook.maybe_pack_idxs are read from REV's
lib/codebook/latticee8_padded12.py (default HEAD) with `git show` and executed under the local torch (the
module itself imports a CUDA extension, so only these functions are taken). Compared with
tests/exporters/hf_quant_reference_codebooks.py, which exporters.test_hf_quant_quip_sharp holds the C++
packer and dequantizer to (docs/hf-quantized.md §10): all 65536 codewords, and the int64 words of random
code grids. Nothing of quip-sharp is copied into qforge. Exit status 1 on any difference.
"""
import ast
import itertools
import os
import subprocess
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "exporters"))
import hf_quant_reference_codebooks as ref  # noqa: E402


def load(git_dir, rev):
    source = subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:lib/codebook/latticee8_padded12.py"],
                            capture_output=True, text=True, check=True).stdout
    tree = ast.parse(source)
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in
              ("get_norm12", "get_packed_abs_grid", "get_full_grid")]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "E8P12_codebook"):
        wanted += [f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "maybe_pack_idxs"]
    namespace = {"torch": torch, "itertools": itertools}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), f"{rev}:latticee8_padded12.py", "exec"), namespace)
    return namespace


def main(git_dir, rev):
    q = load(git_dir, rev)
    grid, _, _ = q["get_full_grid"](q["get_packed_abs_grid"]())
    ours = ref.e8p_decode(np.arange(65536), ref.e8p_abs_rows())
    failed = not np.array_equal(grid.numpy().astype(np.float64), ours)
    print(f"{rev} codebook (65536 codewords): {'DIFFERS' if failed else 'agrees'}")
    rng = np.random.default_rng(0)
    for m, k in [(16, 8), (32, 16), (64, 48)]:
        codes = rng.integers(0, 65536, size=(m, k))
        theirs = q["maybe_pack_idxs"](None, torch.from_numpy(codes.astype(np.int64))).numpy()
        same = np.array_equal(theirs, ref.qidxs(codes))
        failed |= not same
        print(f"{rev} maybe_pack_idxs [{m}, {k}] codes: {'agrees' if same else 'DIFFERS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "HEAD"))
