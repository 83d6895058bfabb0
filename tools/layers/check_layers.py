#!/usr/bin/env python3
"""Fails (exit 1) when a source file includes a folder its layer may not depend on.

The layers (README.md, section Layout) run one way:
    io; autograd <- layers <- fakequant <- ptq <- trainers <- cli; optim, data on autograd (ptq also on optim);
    exporters on fakequant + layers.
trainers reads GGUF and LoRA files only through the type mix, the vocabulary and the import side of
exporters/ (ALLOWED_EXPORTERS below), and inside trainers/ no two modules (a .h/.cpp pair) include each
other, except the documented LoRA-base recursion (run_folder <-> lora_model).

Run by the build (CMake target qforge_layer_check, which every qforge library depends on) and by
ctest layers.check (which also plants a wrong-way include in a copy and expects this script to fail).
Usage: check_layers.py ROOT
"""
import os
import re
import sys

# folder -> folders it may include (besides itself)
ALLOWED = {
    "io": set(),
    "autograd": set(),
    "layers": {"autograd"},
    "optim": {"autograd"},
    "data": {"autograd", "io"},
    "fakequant": {"autograd", "layers"},
    "ptq": {"autograd", "layers", "fakequant", "optim"},  # optim: QuIP#'s fine-tuning (ptq/quip_sharp_finetune.h)
    "exporters": {"autograd", "layers", "fakequant", "io"},
    "trainers": {"autograd", "layers", "optim", "data", "fakequant", "ptq", "exporters", "io"},
    "cli": {"autograd", "layers", "optim", "data", "fakequant", "ptq", "exporters", "trainers", "io"},
}

# The exporters headers trainers may include: GGUF type mix, tensor names, imatrix files, vocabulary, import (reader, names, SPM
# tokenizer; BPE tokenizers of GGUF gpt2 vocabularies and tokenizer.json; HF folder reader), LoRA adapters
# as data and their loading, and the plain data a run hands to exporters.
ALLOWED_EXPORTERS = {
    "exporters/model_export.h",
    "exporters/gguf/llama_type_mix.h",
    "exporters/gguf/llama_tensor_names.h",  # HF <-> GGUF tensor names
    "exporters/gguf/imatrix_file.h",  # importance matrices as data: format-exact QAT weighs with the export's imatrix
    "exporters/gguf/llama_vocabulary.h",
    "exporters/gguf/llama_gguf_import.h",
    "exporters/gguf/gguf_reader.h",
    "exporters/gguf/spm_tokenizer.h",
    "exporters/tokenizers/gguf_bpe.h",
    "exporters/tokenizers/tokenizer_json.h",
    "exporters/lora/lora_adapter.h",
    "exporters/lora/apply_lora.h",
    "exporters/hf/hf_config.h",  # the import side of Hugging Face model folders
    "exporters/hf/hf_model_reader.h",
}

# Pairs of trainers/ modules allowed to include each other.
ALLOWED_CYCLES = {frozenset({"trainers/run_folder", "trainers/lora_model"})}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def sources(root, folder):
    for base, dirs, files in os.walk(os.path.join(root, folder)):
        dirs[:] = [d for d in dirs if d not in ("node_modules", "build")]
        for name in sorted(files):
            if name.endswith((".h", ".cpp", ".cc", ".hpp")):
                yield os.path.join(base, name)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1)


def module(relative):
    return os.path.splitext(relative)[0]


def check(root):
    problems, edges = [], {}
    for folder, allowed in ALLOWED.items():
        for path in sources(root, folder):
            relative = os.path.relpath(path, root)
            for number, target in includes(path):
                top = target.split("/", 1)[0]
                if top not in ALLOWED or top == folder:
                    if folder == "trainers" and top == "trainers" and target.endswith(".h"):
                        edges.setdefault(module(relative), set()).add(module(target))
                    continue
                where = f"{relative}:{number}"
                if top not in allowed:
                    problems.append(f"{where}: {folder}/ may not include {target} ({top}/ is not below {folder}/)")
                elif folder == "trainers" and top == "exporters" and target not in ALLOWED_EXPORTERS:
                    problems.append(f"{where}: trainers/ reads exporters/ only through the type mix, vocabulary and "
                                    f"import headers; {target} is none of them")
    for a, targets in edges.items():
        for b in targets:
            if a < b and a in edges.get(b, set()) and frozenset({a, b}) not in ALLOWED_CYCLES:
                problems.append(f"{a} and {b} include each other (trainers/ modules depend one way)")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = check(root)
    for p in problems:
        print(f"layer check: {p}", file=sys.stderr)
    if problems:
        print(f"layer check: {len(problems)} wrong-way include(s); see README.md, Layout", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
