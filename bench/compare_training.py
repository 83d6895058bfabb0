"""`make bench`, second part: whole training runs, qforge's CLI against bench/torch_train.py.

Each case trains once per framework (qforge first, then PyTorch; these runs are long enough that
alternating the order buys nothing) with the thread and allocator environment of bench/compare.py.
Throughput counts training steps only on both sides (qforge's metrics.jsonl summary event,
torch_train.py's own clock): no data loading, evaluation or checkpoints. Prints per case
  train_mlp qforge_samples_per_s=... torch_samples_per_s=... ratio=... qforge_accuracy=... torch_accuracy=...
  train_char_llama qforge_tokens_per_s=... torch_tokens_per_s=... ratio=... qforge_val_loss=... torch_val_loss=... loss_gap=...%
  train_mlp_qat ... (as train_mlp) qforge_step_ms=... qforge_fp32_step_ms=... qat_over_fp32=... torch_step_ms=...
  train_char_llama_qat ... (as train_char_llama) qforge_step_ms=... qforge_fp32_step_ms=... qat_over_fp32=... torch_step_ms=...
ratio = qforge / torch throughput (above 1 means qforge is faster); loss_gap = (qforge - torch) /
torch validation loss. Seeds differ between the frameworks, so accuracy and loss agree only to
run-to-run noise (a few tenths of a percent of accuracy; about 1% of loss at 300 steps).

The *_qat cases train examples/*_qat.pbtxt (quantization-aware training with fake quantization)
against torch_train.py --qat (torch.ao.quantization QAT of the same model, see there).
qat_over_fp32 = qforge's QAT step time / qforge's FP32 step time of the float case in the same
invocation (its qforge side is run for the purpose if that case was not selected);
torch_qat_over_fp32 likewise for PyTorch when its float case ran. A '# warning' line flags a
PyTorch QAT run whose accuracy or loss is far from the float one (or from sane absolute bounds).
"""
import argparse
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ["train_mlp", "train_char_llama", "train_mlp_qat", "train_char_llama_qat"]
# The float twin of each case: where a QAT case takes its FP32 step time from.
FLOAT_CASE = {"train_mlp_qat": "train_mlp", "train_char_llama_qat": "train_char_llama"}


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


def step_ms(result):
    """Milliseconds per training step: qforge's summary event (train_seconds over the final step),
    torch_train.py's step_ms field."""
    if "step_ms" in result:
        return float(result["step_ms"])
    return 1000 * float(result["train_seconds"]) / float(result["step"])


class Bench:
    """Runs the cases; keeps each case's results so the QAT cases find their float twins."""

    def __init__(self, args):
        self.args = args
        self.ours_env, self.torch_env = environments(args.threads)
        self.ours, self.theirs = {}, {}

    def qforge_case(self, case):
        if case not in self.ours:
            a = self.args
            config, overrides = {
                "train_mlp": ("fashion_mnist_mlp", [f"trainer.epochs={a.mlp_epochs}"]),
                "train_char_llama": ("char_llama_fortunes", [f"trainer.steps={a.llama_steps}"]),
                "train_mlp_qat": ("fashion_mnist_mlp_qat", [f"trainer.epochs={a.mlp_qat_epochs}"]),
                "train_char_llama_qat": ("char_llama_fortunes_qat", [f"trainer.steps={a.llama_steps}"]),
            }[case]
            self.ours[case] = run_qforge(a, self.ours_env, f"examples/{config}.pbtxt", config, overrides)
        return self.ours[case]

    def torch_case(self, case):
        a = self.args
        mode, options = {
            "train_mlp": ("mlp", ["--epochs", str(a.mlp_epochs)]),
            "train_char_llama": ("char_llama", ["--steps", str(a.llama_steps)]),
            "train_mlp_qat": ("mlp", ["--epochs", str(a.mlp_qat_epochs), "--qat"] + (["--fused"] if a.torch_fused else [])),
            "train_char_llama_qat": ("char_llama", ["--steps", str(a.llama_steps), "--qat"]),
        }[case]
        self.theirs[case] = run_torch(a, self.torch_env, mode, options)
        return self.theirs[case]

    def run(self, case):
        ours, theirs = self.qforge_case(case), self.torch_case(case)
        unit = "samples" if "mlp" in case else "tokens"
        ours_rate, theirs_rate = float(ours[f"{unit}_per_second"]), float(theirs[f"{unit}_per_second"])
        line = (f"{case} qforge_{unit}_per_s={ours_rate:.0f} torch_{unit}_per_s={theirs_rate:.0f} "
                f"ratio={ours_rate / theirs_rate:.2f}")
        if case in FLOAT_CASE:
            line += self.qat_figures(case, ours, theirs)
        if unit == "samples":
            line += (f" qforge_accuracy={float(ours['val_accuracy']):.4f} "
                     f"torch_accuracy={float(theirs['val_accuracy']):.4f}")
        else:
            ours_loss, theirs_loss = float(ours["val_loss"]), float(theirs["val_loss"])
            line += (f" qforge_val_loss={ours_loss:.4f} torch_val_loss={theirs_loss:.4f} "
                     f"loss_gap={100 * (ours_loss - theirs_loss) / theirs_loss:+.1f}%")
        print(line, flush=True)
        if case in FLOAT_CASE:
            warning = self.torch_qat_warning(case, theirs)
            if warning:
                print(f"# warning: {case}: {warning}", flush=True)

    def qat_figures(self, case, ours, theirs):
        fp32 = step_ms(self.qforge_case(FLOAT_CASE[case]))
        text = (f" qforge_step_ms={step_ms(ours):.3f} qforge_fp32_step_ms={fp32:.3f} "
                f"qat_over_fp32={step_ms(ours) / fp32:.2f} torch_step_ms={step_ms(theirs):.3f}")
        torch_float = self.theirs.get(FLOAT_CASE[case])
        if torch_float:
            text += f" torch_qat_over_fp32={step_ms(theirs) / step_ms(torch_float):.2f}"
        return text

    def torch_qat_warning(self, case, theirs):
        """PyTorch's QAT run must have trained: int4 weights cost the MLP a point or two of accuracy
        and the char Llama a few percent of loss, not more (measured here: MLP 3 epochs 88.41% float,
        88.40% QAT; char Llama 300 steps val_loss 2.049 float, 2.046 QAT)."""
        torch_float = self.theirs.get(FLOAT_CASE[case])
        if case == "train_mlp_qat":
            accuracy = float(theirs["val_accuracy"])
            floor = 0.80 if torch_float is None else float(torch_float["val_accuracy"]) - 0.03
            return f"torch QAT accuracy {accuracy:.4f} below {floor:.4f}" if accuracy < floor else ""
        loss = float(theirs["val_loss"])
        ceiling = 3.0 if torch_float is None else 1.1 * float(torch_float["val_loss"])
        return f"torch QAT val_loss {loss:.4f} above {ceiling:.4f}" if loss > ceiling else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qforge", default=os.path.join(ROOT, "build", "cli", "qforge"), help="the qforge CLI")
    parser.add_argument("--python", default=sys.executable, help="a python with torch (default: this one)")
    parser.add_argument("--run-root", default=os.path.join(ROOT, "build", "bench-runs"),
                        help="qforge run folders go here (default build/bench-runs)")
    parser.add_argument("--llama-steps", type=int, default=300,
                        help="char_llama training steps, float and QAT (default 300)")
    parser.add_argument("--mlp-epochs", type=int, default=3, help="Fashion-MNIST MLP epochs (default 3)")
    # As many epochs as the float case: the first epoch runs ~3-5% slower per step than the average
    # of three (measured with qforge), which would skew qat_over_fp32; three QAT epochs add ~10 s.
    parser.add_argument("--mlp-qat-epochs", type=int, default=3, help="Fashion-MNIST MLP QAT epochs (default 3)")
    parser.add_argument("--torch-fused", action="store_true",
                        help="train_mlp_qat: PyTorch with FusedMovingAvgObsFakeQuantize (torch_train.py --fused)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    parser.add_argument("--cases", nargs="*", choices=CASES, help="subset of cases (default all, in this order)")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, threads={args.threads}, "
          f"torch OPENBLAS_NUM_THREADS=1; load average {load:.2f} at start (other work skews both sides)", flush=True)
    bench = Bench(args)
    selected = args.cases or CASES
    for case in [case for case in CASES if case in selected]:  # float cases first: QAT ones use their step times
        bench.run(case)
    print(f"# load average {os.getloadavg()[0]:.2f} at the end", flush=True)


if __name__ == "__main__":
    main()
