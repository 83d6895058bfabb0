"""`make bench`: qforge against PyTorch (CPU) on the same forward+backward cases, side by side.

Starts one qforge_bench_server and two torch_ops.py processes (see environments()), all on 2
threads, and alternates them case by case for several rounds (which side goes first alternates
too), so machine noise hits both alike. Prints per case the median times and the median of the per-round ratios
(ratio = torch time / qforge time; above 1 means qforge is faster), then the geometric mean.

Before quoting any ratio it checks that PyTorch's sgemm runs at its expected speed: Debian's
python3-torch falls back to the reference BLAS (~5 GFLOP/s) without libopenblas0, and a preset
OPENBLAS_CORETYPE halves it; a ratio against a crippled baseline would be meaningless.
"""
import argparse
import math
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def start(command, env):
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, bufsize=1)


def ask(process, line):
    process.stdin.write(line + "\n")
    process.stdin.flush()
    answer = process.stdout.readline().split()
    if len(answer) != 2 or answer[1] == "error":
        raise SystemExit(f"bench: '{line}' failed: {' '.join(answer) or 'process exited'}")
    return float(answer[1])


def environments(threads):
    """qforge's environment, and PyTorch's two: Debian's torch runs GEMMs in OpenBLAS's own pthreads,
    not in its OpenMP pool. With OPENBLAS_NUM_THREADS=1 its sgemm uses one core (~180 GFLOP/s here
    instead of ~350); with OPENBLAS_NUM_THREADS=threads the idle OpenBLAS threads spin against the
    OpenMP pool and slow the following elementwise ops 2-10x. Neither alone is fair, so PyTorch
    runs in both settings and each round keeps its faster time."""
    base = dict(os.environ)
    base.pop("OPENBLAS_CORETYPE", None)  # preset to Haswell here; it halves OpenBLAS sgemm on this CPU
    base["OMP_NUM_THREADS"] = str(threads)
    # qforge recycles large blocks (autograd/allocator.cpp). PyTorch's CPU allocator is plain
    # malloc, which maps fresh pages for every large tensor; first-touch page faults are slow on
    # this VM (~10-17 us per 4 KiB), 30x PyTorch's rmsnorm time. Keeping glibc from returning
    # memory gives PyTorch the same reuse, so the ratios compare kernels, not allocators.
    torch_base = dict(base, MALLOC_MMAP_THRESHOLD_="4294967296", MALLOC_TRIM_THRESHOLD_="68719476736")
    single_blas = dict(torch_base, OPENBLAS_NUM_THREADS="1")
    threaded_blas = dict(torch_base, OPENBLAS_NUM_THREADS=str(threads))
    return base, [single_blas, threaded_blas]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="path of the qforge_bench_server binary")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per case (default 5)")
    parser.add_argument("--seconds", type=float, default=0.4, help="minimum timing per side per round (default 0.4)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    parser.add_argument("--min-sgemm", type=float, default=250.0,
                        help="GFLOP/s PyTorch's sgemm at n=2048 must reach before ratios are quoted (default 250)")
    parser.add_argument("--cases", nargs="*", help="subset of case names")
    args = parser.parse_args()

    ours_env, torch_envs = environments(args.threads)
    ours = start([args.server], ours_env)
    theirs = [start([sys.executable, os.path.join(HERE, "torch_ops.py")], env) for env in torch_envs]
    ours.stdin.write("list\n")
    ours.stdin.flush()
    available = ours.stdout.readline().split()
    unknown = [case for case in args.cases or [] if case not in available]
    if unknown:
        raise SystemExit(f"bench: unknown case(s) {' '.join(unknown)}; available: {' '.join(available)}")
    cases = args.cases or available

    for process in theirs:
        ask(process, "ping")  # both PyTorch processes have finished importing before anything is timed
    sgemm = max(ask(theirs[1], "sgemm") for _ in range(3))
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, threads={args.threads}, "
          f"build=Release -O3 -march=native; torch sgemm n=2048: {sgemm:.0f} GFLOP/s")
    if sgemm < args.min_sgemm:
        raise SystemExit(f"bench: PyTorch sgemm reaches only {sgemm:.0f} GFLOP/s (< {args.min_sgemm:.0f}); "
                         "is libopenblas0 installed and OPENBLAS_CORETYPE unset? No ratios quoted.")

    ratios = []
    for case in cases:
        ours_ms, torch_ms, case_ratios = [], [], []
        for round_index in range(args.rounds):
            line = f"{case} {args.seconds}"
            if round_index % 2:
                torch_ms.append(min(ask(process, line) for process in theirs))
                ours_ms.append(ask(ours, line))
            else:
                ours_ms.append(ask(ours, line))
                torch_ms.append(min(ask(process, line) for process in theirs))
            case_ratios.append(torch_ms[-1] / ours_ms[-1])
        ratio = statistics.median(case_ratios)
        ratios.append(ratio)
        print(f"{case} qforge_ms={statistics.median(ours_ms):.3f} torch_ms={statistics.median(torch_ms):.3f} "
              f"ratio={ratio:.2f}", flush=True)
    print(f"geomean_ratio={math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
    for process in [ours, *theirs]:
        process.stdin.close()
        process.wait()


if __name__ == "__main__":
    main()
