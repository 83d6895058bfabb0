"""Manual check (not in CI): bitsandbytes' own code tables against qforge's numpy reference.

    /usr/bin/python3 tools/hf_quant/check_bitsandbytes.py BNB_GIT_DIR [REV]

BNB_GIT_DIR is a git repository of bitsandbytes (a bare clone is enough). create_dynamic_map and
get_4bit_type are read from REV's bitsandbytes/functional.py (default HEAD) with `git show`, executed
under the local torch, and their float32 bits compared with the tables of
tests/exporters/hf_quant_reference.py, which exporters.test_hf_quant_bitsandbytes holds the C++ packer to
(quant_map, nested_quant_map; docs/hf-quantized.md §5). Nothing of the library is copied into qforge.
Exit status 1 on any difference.
"""
import ast
import itertools
import os
import subprocess
import sys
import typing

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "exporters"))
import hf_quant_reference as ref  # noqa: E402


def main(git_dir, rev):
    source = subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:bitsandbytes/functional.py"],
                            capture_output=True, text=True, check=True).stdout
    tree = ast.parse(source)
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in ("create_dynamic_map", "get_4bit_type")]
    namespace = {"torch": torch, "Optional": typing.Optional, "itertools": itertools}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), f"{rev}:functional.py", "exec"), namespace)
    checks = [("nested_quant_map (create_dynamic_map)", namespace["create_dynamic_map"]().numpy(), ref.dynamic_map()),
              ("quant_map nf4", namespace["get_4bit_type"]("nf4", device="cpu").numpy(), ref.NF4),
              ("quant_map fp4", namespace["get_4bit_type"]("fp4", device="cpu").numpy(), ref.BNB_FP4)]
    failed = False
    for label, theirs, ours in checks:
        same = np.array_equal(theirs.astype(np.float32).view(np.uint32), ours.view(np.uint32))
        failed |= not same
        print(f"{rev} {label}: {'agrees' if same else 'DIFFERS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "HEAD"))
