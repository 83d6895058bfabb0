"""Manual check (not in CI): compressed-tensors' own packer against qforge's numpy reference.

    /usr/bin/python3 tools/hf_quant/check_compressed_tensors.py CT_GIT_DIR [TAG ...]

CT_GIT_DIR is a git repository of compressed-tensors (vllm-project/compressed-tensors; a bare clone is
enough). For each tag (default: 0.10.0 0.16.0 HEAD) the functions pack_to_int32 / unpack_from_int32 are
read from that tag's source with `git show`, executed under the local torch, and compared with the packing
of tests/exporters/hf_quant_reference.py, which exporters.test_hf_quant_reference holds the C++ packer to
byte for byte (docs/hf-quantized.md §4). Nothing of the library is copied into qforge; it runs from its
own checkout. Prints one line per tag and width; exit status 1 on any difference.
"""
import ast
import math
import os
import subprocess
import sys
import typing

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "exporters"))
import hf_quant_reference as ref  # noqa: E402

# Where the helpers lived: compressors/quantized_compressors/pack_quantized.py up to 0.12, then
# compressors/pack_quantized/helpers.py.
PATHS = ["src/compressed_tensors/compressors/pack_quantized/helpers.py",
         "src/compressed_tensors/compressors/quantized_compressors/pack_quantized.py"]
SHAPES = [(20, 36), (64, 128), (7, 5), (32, 48)]


def load(git_dir, tag):
    for path in PATHS:
        shown = subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"{tag}: no pack_to_int32 source found")
    tree = ast.parse(shown.stdout)
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in ("pack_to_int32", "unpack_from_int32")]
    namespace = {"torch": torch, "math": math, "np": np, "Literal": typing.Literal, "Union": typing.Union,
                 "Optional": typing.Optional}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), f"{tag}:{path}", "exec"), namespace)
    return namespace["pack_to_int32"], namespace["unpack_from_int32"]


def reference_pack(u, bits):
    return ref.lsb_stream(u, bits) if bits == 3 else ref.per_word_pack(u, bits)


def check(tag, pack, unpack, bits, rng):
    """True when every shape agrees; packed_dim=0 with rows not filling whole words is reported apart."""
    ok, notes = True, []
    for rows, cols in SHAPES:
        u = rng.integers(0, 1 << bits, size=(rows, cols))
        signed = torch.tensor(u - (1 << (bits - 1)), dtype=torch.int8)
        theirs = pack(signed, bits).numpy().view(np.uint32)
        ok &= bool(np.array_equal(theirs, reference_pack(u, bits)))
        back = unpack(torch.tensor(reference_pack(u, bits).view(np.int32)), bits, torch.Size([rows, cols])).numpy()
        ok &= bool(np.array_equal(back, u - (1 << (bits - 1))))
        try:
            theirs0 = pack(signed, bits, packed_dim=0).numpy().view(np.uint32)
            same0 = np.array_equal(theirs0, reference_pack(u.T, bits).T)
        except Exception as e:  # noqa: BLE001 - an upstream failure is a finding, not a crash
            same0 = False
            notes.append(f"packed_dim=0 [{rows}, {cols}] raised {type(e).__name__}")
        if not same0 and rows % (32 // bits) != 0:
            notes.append(f"packed_dim=0 differs for out = {rows} (not a multiple of {32 // bits})")
        else:
            ok &= bool(same0)
    return ok, notes


def main(git_dir, tags):
    rng = np.random.default_rng(0)
    failed = False
    for tag in tags:
        pack, unpack = load(git_dir, tag)
        for bits in (2, 3, 4, 8):
            if bits == 3:
                # Only the dense stream (0.17 on) agrees with the reference's 3-bit packing: 32 values, 3 words.
                words = pack(torch.ones((1, 32), dtype=torch.int8), 3).shape[1]
                if words != 3:
                    print(f"{tag} 3-bit: per-word layout ({words} words per 32 values), not written by qforge")
                    continue
            ok, notes = check(tag, pack, unpack, bits, rng)
            failed |= not ok
            print(f"{tag} {bits}-bit: {'agrees' if ok else 'DIFFERS'}" + "".join(f"; {n}" for n in notes))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:] or ["0.10.0", "0.16.0", "HEAD"]))
