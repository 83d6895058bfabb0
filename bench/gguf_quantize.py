#!/usr/bin/python3
"""qforge quantize-gguf against llama.cpp's llama-quantize on the same F32 GGUF (issue 7).

Builds llama-quantize and llama-imatrix from the llama.cpp source node-llama-cpp ships (cached in
build/llamacpp-tools, so a second run does not rebuild), writes a random-weight F32 llama GGUF of
about 100M parameters (bench/make_random_llama_gguf.cpp), collects an importance matrix for it with
llama-imatrix on the fortunes text, then per type (Q4_K_M, IQ4_NL, Q8_0):
  - times both tools alternately, 2 threads each, median of 3 (wall clock of the whole process,
    MB/s of F32 input; expect +-15% noise on a shared 2-core machine),
  - compares each tensor's error against the F32 weights: plain RMSE on files made without imatrix,
    importance-weighted RMSE on files both tools made with the same imatrix.
Prints `gguf_quantize TYPE qforge_mb_s=... llama_mb_s=... ratio=... rmse_ratio=... wrmse_ratio=...
identical=0|1 bytes=...`, the ratios being max over tensors of qforge/llama among tensors both tools gave
the same type; identical=1 when both files (without and with the imatrix) are byte-identical. --types
takes any file type of qforge's table (`qforge quantize-gguf --help`) or `all`; the presets that need an
importance matrix are timed with it (rmse_ratio=0: no plain file exists).
"""
import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import time

TYPES = ["Q4_K_M", "IQ4_NL", "Q8_0"]
BUNDLE = "tools/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle"
FORTUNES = "/usr/share/games/fortunes/fortunes"


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def build_llama_tools(root, tools):
    binaries = [os.path.join(tools, "build", "bin", b) for b in ("llama-quantize", "llama-imatrix")]
    if all(os.path.exists(b) for b in binaries):
        return binaries
    src = os.path.join(tools, "src")
    if not os.path.isdir(src):
        bundle = os.path.join(root, BUNDLE)
        if not os.path.exists(bundle):
            sys.exit(f"gguf_quantize: {bundle} missing: run `bash scripts/setup_node.sh` first")
        run(["git", "clone", "-q", bundle, src])
    run(["cmake", "-S", src, "-B", os.path.join(tools, "build"), "-DCMAKE_BUILD_TYPE=Release",
         "-DLLAMA_CURL=OFF", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF"],
        stdout=subprocess.DEVNULL)
    run(["cmake", "--build", os.path.join(tools, "build"), "-j2", "--target", "llama-quantize", "llama-imatrix"],
        stdout=subprocess.DEVNULL)
    return binaries


def timed(cmd):
    start = time.perf_counter()
    run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def tensor_errors(error_tool, f32, quant, imatrix=None):
    cmd = [error_tool, f32, quant] + ([imatrix] if imatrix else [])
    out = run(cmd, capture_output=True, text=True).stdout
    errors = {}
    for line in out.splitlines():
        name, ggml_type, rmse, wrmse = line.split()
        errors[name] = (ggml_type, float(rmse), float(wrmse))
    return errors


def worst_ratio(ours, theirs, column):
    """max over tensors of the same type of ours/theirs; also the names whose types differ."""
    worst, worst_name, differing = 0.0, "", []
    for name, (ggml_type, *values) in ours.items():
        other = theirs.get(name)
        if other is None or other[0] != ggml_type:
            differing.append(f"{name}:{ggml_type}/{other[0] if other else '-'}")
            continue
        if other[1 + column] > 0 and values[column] / other[1 + column] > worst:
            worst, worst_name = values[column] / other[1 + column], name
    return worst, worst_name, differing


def file_types_of(help_text):
    """The quantized file types of `qforge quantize-gguf --help` (the table's list), floats left out."""
    line = next(l for l in help_text.splitlines() if "File type:" in l)
    types = [t.strip() for t in line.split("File type:")[1].split(",")]
    return [t for t in types if t not in ("F32", "F16", "BF16")]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--types", default=",".join(TYPES))
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(args.build)
    qforge = os.path.join(build, "cli", "qforge")
    error_tool = os.path.join(build, "bench", "gguf_tensor_error")
    quantize, imatrix_tool = build_llama_tools(root, os.path.join(build, "llamacpp-tools"))
    work = os.path.join(build, "gguf-bench")
    os.makedirs(work, exist_ok=True)
    f32 = os.path.join(work, "random-f32.gguf")
    if not os.path.exists(f32):
        run([os.path.join(build, "bench", "make_random_llama_gguf"), f32])
    imatrix = os.path.join(work, "imatrix.gguf")
    if not os.path.exists(imatrix):
        run([imatrix_tool, "-m", f32, "-f", FORTUNES, "-o", imatrix, "-c", "128", "--chunks", "8", "-t",
             str(args.threads), "--no-ppl"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mb = os.path.getsize(f32) / 1e6
    print(f"gguf_quantize input {f32}: {mb:.0f} MB F32, {args.threads} threads, median of {args.repeats}")
    env_threads = str(args.threads)
    types = args.types.split(",")
    if types == ["all"]:
        help_text = run([qforge, "quantize-gguf", "--help"], capture_output=True, text=True).stdout
        types = file_types_of(help_text)
    for ggml_type in types:
        ours_out = os.path.join(work, f"qforge-{ggml_type}.gguf")
        theirs_out = os.path.join(work, f"llama-{ggml_type}.gguf")
        ours_cmd = [qforge, "quantize-gguf", f32, ours_out, ggml_type, "--threads", env_threads]
        theirs_cmd = [quantize, f32, theirs_out, ggml_type, env_threads]
        ours_imatrix_cmd = ours_cmd + ["--imatrix", imatrix]
        theirs_imatrix_cmd = theirs_cmd[:1] + ["--imatrix", imatrix] + theirs_cmd[1:]
        # Presets llama-quantize refuses without an importance matrix (IQ2_*, IQ1_*, IQ3_XXS, IQ3_XS, Q2_K_S)
        # are timed with it; both tools must refuse alike, which `peer.llama_quantize_presets` checks.
        needs_imatrix = run(ours_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode != 0
        timed_ours, timed_theirs = (ours_imatrix_cmd, theirs_imatrix_cmd) if needs_imatrix else (ours_cmd, theirs_cmd)
        ours_t, theirs_t = [], []
        for _ in range(args.repeats):  # alternate so both see the same machine load
            ours_t.append(timed(timed_ours))
            theirs_t.append(timed(timed_theirs))
        ours_mb_s, theirs_mb_s = mb / statistics.median(ours_t), mb / statistics.median(theirs_t)
        print(f"  {ggml_type} times{' (imatrix)' if needs_imatrix else ''} qforge={['%.2f' % t for t in ours_t]} "
              f"llama={['%.2f' % t for t in theirs_t]}", flush=True)
        rmse_ratio, rmse_name, differing = 0.0, "-", []
        identical = True
        if not needs_imatrix:
            rmse_ratio, rmse_name, differing = worst_ratio(tensor_errors(error_tool, f32, ours_out),
                                                           tensor_errors(error_tool, f32, theirs_out), 0)
            identical = filecmp.cmp(ours_out, theirs_out, shallow=False)
            run(ours_imatrix_cmd, stdout=subprocess.DEVNULL)
            run(theirs_imatrix_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        identical = identical and filecmp.cmp(ours_out, theirs_out, shallow=False)  # same imatrix path: same keys
        wrmse_ratio, wrmse_name, wdiffering = worst_ratio(tensor_errors(error_tool, f32, ours_out, imatrix),
                                                          tensor_errors(error_tool, f32, theirs_out, imatrix), 1)
        print(f"gguf_quantize {ggml_type} qforge_mb_s={ours_mb_s:.0f} llama_mb_s={theirs_mb_s:.0f} "
              f"ratio={ours_mb_s / theirs_mb_s:.2f} rmse_ratio={rmse_ratio:.4f} wrmse_ratio={wrmse_ratio:.4f} "
              f"identical={int(identical)} bytes={os.path.getsize(ours_out)}")
        print(f"  worst tensors: {rmse_name} (plain), {wrmse_name} (weighted)")
        if differing or wdiffering:
            print(f"  not compared (types differ, qforge/llama): plain {differing} imatrix {wdiffering}")


if __name__ == "__main__":
    main()
