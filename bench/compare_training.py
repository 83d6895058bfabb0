"""`make bench`, second part: whole training runs, qforge's CLI against bench/torch_train.py.

Each case trains once per framework (qforge first, then PyTorch; these runs are long enough that
alternating the order buys nothing) with the thread and allocator environment of bench/compare.py.
Throughput counts training steps only on both sides (qforge's metrics.jsonl summary event,
torch_train.py's own clock): no data loading, evaluation or checkpoints. Prints per case
  train_mlp qforge_samples_per_s=... torch_samples_per_s=... ratio=... qforge_accuracy=... torch_accuracy=...
  train_char_llama qforge_tokens_per_s=... torch_tokens_per_s=... ratio=... qforge_val_loss=... torch_val_loss=... loss_gap=...%
ratio = qforge / torch throughput (above 1 means qforge is faster); loss_gap = (qforge - torch) /
torch validation loss. Seeds differ between the frameworks, so accuracy and loss agree only to
run-to-run noise (a few tenths of a percent of accuracy; about 1% of loss at 300 steps).
"""
import argparse
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ["train_mlp", "train_char_llama"]


def environments(threads):
    """As compare.py's environments(), but one PyTorch setting: in whole training runs
    OPENBLAS_NUM_THREADS=1 was the faster here (measured on this 2-cpu VM: MLP 3 epochs and
    char_llama 300 steps; OPENBLAS_NUM_THREADS=2 lets OpenBLAS's pthreads spin against the OpenMP
    pool between GEMMs, which costs more than the second core gains on these small matrices)."""
    base = dict(os.environ)
    base.pop("OPENBLAS_CORETYPE", None)  # preset to Haswell here; it halves OpenBLAS sgemm on this CPU
    base["OMP_NUM_THREADS"] = str(threads)
    # PyTorch's CPU allocator is plain malloc; see compare.py for why glibc keeps its memory.
    torch_env = dict(base, MALLOC_MMAP_THRESHOLD_="4294967296", MALLOC_TRIM_THRESHOLD_="68719476736",
                     OPENBLAS_NUM_THREADS="1")
    return base, torch_env


def run(command, env):
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    finals = [line for line in done.stdout.splitlines() if line.startswith("final:")]
    if done.returncode != 0 or not finals:
        tail = "\n".join(done.stdout.splitlines()[-10:])
        raise SystemExit(f"bench: '{' '.join(command)}' failed (exit {done.returncode}):\n{tail}")
    return dict(field.split("=", 1) for field in finals[-1].split()[1:])


def run_qforge(args, env, config, run_name, overrides):
    run_dir = os.path.join(args.run_root, run_name)
    command = [args.qforge, "train", "--config", config, "--run-dir", run_dir, "--fresh"]
    for override in overrides:
        command += ["--set", override]
    final = run(command, env)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        summaries = [event for event in map(json.loads, f) if event.get("event") == "summary"]
    if not summaries:
        raise SystemExit(f"bench: no summary event in {run_dir}/metrics.jsonl")
    final.update({key: str(value) for key, value in summaries[-1].items()})
    return final


def run_torch(args, env, mode, options):
    command = [args.python, os.path.join(HERE, "torch_train.py"), mode, "--threads", str(args.threads), *options]
    return run(command, env)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qforge", default=os.path.join(ROOT, "build", "cli", "qforge"), help="the qforge CLI")
    parser.add_argument("--python", default=sys.executable, help="a python with torch (default: this one)")
    parser.add_argument("--run-root", default=os.path.join(ROOT, "build", "bench-runs"),
                        help="qforge run folders go here (default build/bench-runs)")
    parser.add_argument("--llama-steps", type=int, default=300, help="char_llama training steps (default 300)")
    parser.add_argument("--mlp-epochs", type=int, default=3, help="Fashion-MNIST MLP epochs (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    parser.add_argument("--cases", nargs="*", choices=CASES, help="subset of cases")
    args = parser.parse_args()

    ours_env, torch_env = environments(args.threads)
    load = os.getloadavg()[0]
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, threads={args.threads}, "
          f"torch OPENBLAS_NUM_THREADS=1; load average {load:.2f} at start (other work skews both sides)", flush=True)
    for case in args.cases or CASES:
        if case == "train_mlp":
            ours = run_qforge(args, ours_env, "examples/fashion_mnist_mlp.pbtxt", "fashion_mnist_mlp",
                              [f"trainer.epochs={args.mlp_epochs}"])
            theirs = run_torch(args, torch_env, "mlp", ["--epochs", str(args.mlp_epochs)])
            ours_rate, theirs_rate = float(ours["samples_per_second"]), float(theirs["samples_per_second"])
            print(f"train_mlp qforge_samples_per_s={ours_rate:.0f} torch_samples_per_s={theirs_rate:.0f} "
                  f"ratio={ours_rate / theirs_rate:.2f} qforge_accuracy={float(ours['val_accuracy']):.4f} "
                  f"torch_accuracy={float(theirs['val_accuracy']):.4f}", flush=True)
        else:
            ours = run_qforge(args, ours_env, "examples/char_llama_fortunes.pbtxt", "char_llama_fortunes",
                              [f"trainer.steps={args.llama_steps}"])
            theirs = run_torch(args, torch_env, "char_llama", ["--steps", str(args.llama_steps)])
            ours_rate, theirs_rate = float(ours["tokens_per_second"]), float(theirs["tokens_per_second"])
            ours_loss, theirs_loss = float(ours["val_loss"]), float(theirs["val_loss"])
            print(f"train_char_llama qforge_tokens_per_s={ours_rate:.0f} torch_tokens_per_s={theirs_rate:.0f} "
                  f"ratio={ours_rate / theirs_rate:.2f} qforge_val_loss={ours_loss:.4f} torch_val_loss={theirs_loss:.4f} "
                  f"loss_gap={100 * (ours_loss - theirs_loss) / theirs_loss:+.1f}%", flush=True)


if __name__ == "__main__":
    main()
