#!/usr/bin/python3
"""SIGKILL qforge at random moments while it writes, many times, and check that nothing is ever torn
(issue 19). Each iteration picks one writer, starts it, kills it after a random delay within that
writer's usual run time, then checks:

  train        (checkpoint every step)  checkpoint.bin loads (`qforge eval`) and its step never goes back;
  export gguf  (over a previous file)   the file is the previous export or the complete new one, bytewise;
  export hf    (over a previous folder) model.safetensors likewise;
  study        (report.md rewritten)    report.md is the previous report or the complete new one.

At the end the killed run is resumed to its last step and must end on exactly the final line of an
uninterrupted run (bit-exact resume after every kill). Prints per writer the kills that landed while it
was still running, then
    kill_loop kills=N landed=M torn=0 lost=0 resume_bit_exact=1
Usage: kill_loop.py --qforge build/cli/qforge [--kills 200] [--seed 1]
"""
import argparse
import filecmp
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

RUN = """model { llama { hidden_size: 64 num_hidden_layers: 2 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 128 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
optimizer { lr: 0.003 }
trainer { steps: STEPS log_every: 1 eval_batches: 1 checkpoint_every: 1 seed: 1 }
"""
STUDY = """base { model { llama { hidden_size: 32 num_hidden_layers: 1 num_attention_heads: 2 num_key_value_heads: 1
                             intermediate_size: 64 max_position_embeddings: 32 } }
       data { text { corpus_end: 0.05 } batch_size: 4 }
       trainer { steps: 20 eval_batches: 1 seed: 1 } }
weight_schemes: ["int8:channel", "int4:channel"]
methods: ["ptq"]
"""


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), **kw)


def killed(cmd, delay):
    """Starts cmd, SIGKILLs it after `delay` s; True when it was still running then."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    time.sleep(delay)
    alive = p.poll() is None
    if alive:
        p.send_signal(signal.SIGKILL)
    p.wait()
    return alive


def report_text(study_dir):
    """report.md without its wall time, the one thing a rerun changes."""
    return re.sub(r"total wall time [0-9.]+ s", "", open(os.path.join(study_dir, "report.md")).read())


def checkpoint_step(qforge, run_dir):
    out = run([qforge, "eval", "--checkpoint", run_dir])
    m = re.search(r"final: step=(\d+)", out.stdout)
    return int(m.group(1)) if m else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qforge", default="build/cli/qforge")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    qforge, rng = os.path.abspath(args.qforge), random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="qforge-kill-loop-")
    steps = 20 * args.kills + 100  # beyond what the killed run reaches (~14 ms a step with its checkpoint)
    try:
        config = os.path.join(work, "run.pbtxt")
        open(config, "w").write(RUN.replace("STEPS", str(steps)))
        straight = run([qforge, "train", "--config", config, "--run-dir", os.path.join(work, "straight"),
                        "--set", "trainer.checkpoint_every=0"], check=True)  # checkpoints change no number
        killed_run = os.path.join(work, "killed")
        # References: a float run to export, its GGUF and HF exports, a finished study.
        source = os.path.join(work, "source")
        run([qforge, "train", "--config", config, "--run-dir", source, "--set", "trainer.steps=2"], check=True)
        gguf_ref, hf_ref = os.path.join(work, "ref.gguf"), os.path.join(work, "ref_hf")
        run([qforge, "export", "--checkpoint", source, "--type", "Q8_0", "-o", gguf_ref], check=True)
        run([qforge, "export", "--checkpoint", source, "--format", "hf", "-o", hf_ref], check=True)
        study_config = os.path.join(work, "study.pbtxt")
        open(study_config, "w").write(STUDY)
        study_dir = os.path.join(work, "study")
        run([qforge, "study", "--config", study_config, "--out", study_dir], check=True)
        report_ref = report_text(study_dir)
        gguf_out, hf_out = os.path.join(work, "out.gguf"), os.path.join(work, "out_hf")
        shutil.copy(gguf_ref, gguf_out)
        shutil.copytree(hf_ref, hf_out)
        writers = {
            "train": ([qforge, "train", "--config", config, "--run-dir", killed_run], 1.5),
            "export_gguf": ([qforge, "export", "--checkpoint", source, "--type", "Q8_0", "-o", gguf_out], None),
            "export_hf": ([qforge, "export", "--checkpoint", source, "--format", "hf", "-o", hf_out], None),
            "study": ([qforge, "study", "--config", study_config, "--out", study_dir], None),
        }
        for name, (cmd, span) in writers.items():  # kills spread over a writer's own run time
            if span is None:
                start = time.perf_counter()
                run(cmd, check=True)
                writers[name] = (cmd, 1.1 * (time.perf_counter() - start))
        landed = dict.fromkeys(writers, 0)
        torn = lost = 0
        last_step = 0
        for i in range(args.kills):
            name = rng.choice(sorted(writers))
            cmd, span = writers[name]
            landed[name] += killed(cmd, rng.uniform(0.0, span))
            if name == "train":
                step = checkpoint_step(qforge, killed_run) if os.path.exists(os.path.join(killed_run, "checkpoint.bin")) else 0
                if step is None:
                    torn += 1
                    print(f"kill {i}: checkpoint.bin does not load", file=sys.stderr)
                elif step < last_step:
                    lost += 1
                    print(f"kill {i}: checkpoint went back from step {last_step} to {step}", file=sys.stderr)
                else:
                    last_step = step
            elif name == "export_gguf" and not filecmp.cmp(gguf_out, gguf_ref, shallow=False):
                torn += 1
                print(f"kill {i}: {gguf_out} is neither the previous nor the new export", file=sys.stderr)
            elif name == "export_hf" and not filecmp.cmp(os.path.join(hf_out, "model.safetensors"),
                                                         os.path.join(hf_ref, "model.safetensors"), shallow=False):
                torn += 1
                print(f"kill {i}: {hf_out}/model.safetensors is torn", file=sys.stderr)
            elif name == "study" and report_text(study_dir) != report_ref:
                torn += 1
                print(f"kill {i}: report.md is torn", file=sys.stderr)
        resumed = run([qforge, "train", "--config", config, "--run-dir", killed_run], check=True)
        bit_exact = resumed.stdout.strip().splitlines()[-1] == straight.stdout.strip().splitlines()[-1]
        for name in sorted(writers):
            print(f"kill_loop writer={name} span_s={writers[name][1]:.3f} landed={landed[name]}")
        print(f"kill_loop kills={args.kills} landed={sum(landed.values())} torn={torn} lost={lost} "
              f"checkpoint_step={last_step} resume_bit_exact={int(bit_exact)}")
        return 0 if torn == 0 and lost == 0 and bit_exact else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
