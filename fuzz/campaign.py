#!/usr/bin/env python3
"""The fuzzing campaign of `make fuzz` (not CI): every target of the fuzz build runs until it has
executed at least --execs inputs, then one line per target:

    fuzz TARGET execs=N crashes=C ooms=O timeouts=T exec_per_s=R seconds=S

read from libFuzzer's final statistics (-print_final_stats=1: stat::number_of_executed_units). libFuzzer
stops at its first finding; the campaign then records the finding by the artifact libFuzzer wrote
(crash-/leak- count as crashes, oom-, timeout-) and starts the target again from its grown corpus until
the executions add up, giving up on a target after --max-findings findings. Artifacts are kept in
BUILD/fuzz/campaign/TARGET/. Exit status 1 when any target had a finding.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The limits of the ctest runs (fuzz/CMakeLists.txt): a malloc above 256 MB from a few KB is a finding.
LIMITS = ["-timeout=10", "-rss_limit_mb=2048", "-malloc_limit_mb=256"]
KINDS = {"crash-": "crashes", "leak-": "crashes", "oom-": "ooms", "timeout-": "timeouts"}


def targets_of(build):
    names = sorted(p.name[len("fuzz_"):] for p in (build / "fuzz").glob("fuzz_*") if p.is_file() and os.access(p, os.X_OK))
    if not names:
        sys.exit(f"campaign: no fuzz targets in {build}/fuzz (run make fuzz-build)")
    return names


def run_once(build, target, runs, artifacts):
    """One libFuzzer process; returns (executions, finding kind or None, seconds, log tail)."""
    work = build / "fuzz" / "corpus" / target
    work.mkdir(parents=True, exist_ok=True)
    command = [str(build / "fuzz" / f"fuzz_{target}"), f"-runs={runs}", "-print_final_stats=1",
               f"-artifact_prefix={artifacts}/", *LIMITS]
    dictionary = ROOT / "fuzz" / "dictionaries" / f"{target}.dict"
    if dictionary.exists():
        command.append(f"-dict={dictionary}")
    command += [str(work), str(ROOT / "tests" / "corpus" / target)]
    start = time.monotonic()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.monotonic() - start
    log = result.stderr
    executed = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    if not executed:
        sys.exit(f"campaign: {target} printed no final statistics (exit {result.returncode}):\n{log[-3000:]}")
    kind = None
    if result.returncode != 0:
        written = re.findall(r"Test unit written to (\S+)", log)
        prefix = Path(written[-1]).name if written else ""
        kind = next((k for p, k in KINDS.items() if prefix.startswith(p)), "crashes")
    return int(executed[-1]), kind, seconds, log[-4000:]


def campaign(build, target, execs, max_findings):
    artifacts = build / "fuzz" / "campaign" / target
    artifacts.mkdir(parents=True, exist_ok=True)
    counts = {"crashes": 0, "ooms": 0, "timeouts": 0}
    total, seconds = 0, 0.0
    while total < execs and sum(counts.values()) < max_findings:
        executed, kind, took, log = run_once(build, target, execs - total, artifacts)
        total += executed
        seconds += took
        if kind:
            counts[kind] += 1
            print(f"campaign: {target}: {kind[:-1] if kind != 'crashes' else 'crash'} after {total} executions; "
                  f"artifact in {artifacts}\n{log}", file=sys.stderr)
    rate = total / seconds if seconds else 0.0
    return (f"fuzz {target} execs={total} crashes={counts['crashes']} ooms={counts['ooms']} "
            f"timeouts={counts['timeouts']} exec_per_s={rate:.0f} seconds={seconds:.0f}"), sum(counts.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build-fuzz", help="the fuzz build folder (make fuzz-build)")
    parser.add_argument("--execs", type=int, default=10_000_000, help="executions per target (at least)")
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at the same time")
    parser.add_argument("--max-findings", type=int, default=5, help="findings after which a target stops")
    parser.add_argument("targets", nargs="*", help="targets to run (default: all)")
    args = parser.parse_args()
    build = Path(args.build).resolve()
    targets = args.targets or targets_of(build)
    findings = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(campaign, build, t, args.execs, args.max_findings) for t in targets]
        for future in futures:  # in target order, each line as soon as its target is done
            line, found = future.result()
            print(line, flush=True)
            findings += found
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
