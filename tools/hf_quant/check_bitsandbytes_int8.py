"""Manual check (not in CI): bitsandbytes' own LLM.int8() weight quantization and dequantization against
qforge's numpy reference.

    /usr/bin/python3 tools/hf_quant/check_bitsandbytes_int8.py BNB_GIT_DIR [REV]

BNB_GIT_DIR is a git repository of bitsandbytes (a bare clone is enough). The default (pure torch)
kernels of bitsandbytes::int8_vectorwise_quant (backends/default/ops.py) and
bitsandbytes::int8_vectorwise_dequant (_ops.py) are read from REV (default HEAD) with `git show`, their
registration decorators dropped, and executed under the local torch on random float32 weights; CB, SCB
and the dequantized weight are compared bit for bit with tests/exporters/hf_quant_reference_8bit.py,
which exporters.test_hf_quant_bnb_int8 holds the C++ layout to (docs/hf-quantized.md §6). Nothing of the
library is copied into qforge. Exit status 1 on any difference.
"""
import ast
import os
import subprocess
import sys
import typing

import numpy as np
import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "exporters"))
import hf_quant_reference_8bit as ref  # noqa: E402


def kernel(git_dir, rev, path, op):
    """The function registered with register_kernel(op, "default") in `path`, undecorated."""
    source = subprocess.run(["git", "--git-dir", git_dir, "show", f"{rev}:{path}"], capture_output=True, text=True,
                            check=True).stdout
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(op in ast.unparse(d) and "default" in ast.unparse(d)
                                                     for d in node.decorator_list):
            node.decorator_list = []
            namespace = {"torch": torch, "Optional": typing.Optional}
            exec(compile(ast.Module(body=[node], type_ignores=[]), f"{rev}:{path}", "exec"), namespace)
            return namespace[node.name]
    raise LookupError(f"{op} not found in {rev}:{path}")


def main(git_dir, rev):
    quant = kernel(git_dir, rev, "bitsandbytes/backends/default/ops.py", "bitsandbytes::int8_vectorwise_quant")
    dequant = kernel(git_dir, rev, "bitsandbytes/_ops.py", "bitsandbytes::int8_vectorwise_dequant")
    rng = np.random.default_rng(0)
    failed = False
    for out, inn in [(16, 40), (64, 96), (5, 33)]:
        w = (rng.standard_normal((out, inn)) * 0.05).astype(np.float32)
        w[0, :8] = np.arange(8) - 3.5
        w[1, :] = 0.5
        w[1, 0] = 127.0                # SCB 127: W * (127 / 127) keeps 0.5, rounded to even
        cb, scb, _ = quant(torch.from_numpy(w.copy()), threshold=0.0)
        back = dequant(cb, scb)
        tensors, _, ours_dequant = ref.bnb_int8({"c.name": "P", "c.float": w.astype(np.float64),
                                                 "c.threshold": np.array([6.0])}, "c")
        same = (np.array_equal(cb.numpy(), tensors["P.weight"][1]) and
                np.array_equal(scb.numpy().view(np.uint32), tensors["P.SCB"][1]) and
                np.array_equal(back.numpy().view(np.uint32), ours_dequant.view(np.uint32)))
        failed |= not same
        print(f"{rev} int8_vectorwise_quant / dequant [{out}, {inn}]: {'agrees' if same else 'DIFFERS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "HEAD"))
