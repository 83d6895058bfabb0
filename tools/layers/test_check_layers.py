#!/usr/bin/env python3
"""ctest layers.check: the real tree passes check_layers.py, and planted wrong-way includes fail it."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_layers.py")


def run(root):
    result = subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)
    return result.returncode, result.stderr


def tree(parent, files):
    root = tempfile.mkdtemp(prefix="tree_", dir=parent)
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
    return root


def main():
    with tempfile.TemporaryDirectory(prefix="layer_check_") as parent:
        check(sys.argv[1], parent)


def check(repo, parent):
    code, err = run(repo)
    assert code == 0, f"the repository fails the layer check:\n{err}"
    cases = {
        "fakequant includes trainers": ({"fakequant/a.cpp": '#include "trainers/run.h"\n'}, "fakequant/ may not include trainers/run.h"),
        "layers includes fakequant": ({"layers/a.h": '#include "fakequant/qat.h"\n'}, "layers/ may not include"),
        "exporters includes ptq": ({"exporters/gguf/a.cpp": '#include "ptq/method.h"\n'}, "exporters/ may not include ptq/method.h"),
        "trainers writes GGUF itself": ({"trainers/a.cpp": '#include "exporters/gguf/gguf_writer.h"\n'}, "only through the type mix"),
        "trainers modules include each other": ({"trainers/a.cpp": '#include "trainers/b.h"\n', "trainers/b.cpp": '#include "trainers/a.h"\n'},
                                                "trainers/a and trainers/b include each other"),
    }
    for name, (files, expected) in cases.items():
        code, err = run(tree(parent, files))
        assert code == 1 and expected in err, f"{name}: exit {code}, stderr:\n{err}"
        print(f"caught: {name}")
    code, err = run(tree(parent, {"trainers/run_folder.cpp": '#include "trainers/lora_model.h"\n',
                          "trainers/lora_model.cpp": '#include "trainers/run_folder.h"\n',
                          "trainers/x.cpp": '#include "exporters/gguf/llama_type_mix.h"\n#include "layers/llama.h"\n'}))
    assert code == 0, f"allowed includes were refused:\n{err}"
    print("layer check: the tree passes and every planted wrong-way include fails")


if __name__ == "__main__":
    main()
