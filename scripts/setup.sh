#!/usr/bin/env bash
# Installs every Debian package qforge builds, tests and benchmarks with.
# Idempotent and non-interactive: when everything is present it touches nothing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ccache pkg-config git
  # the fuzz build (make fuzz-build, fuzz/CMakeLists.txt): clang with libFuzzer and the sanitizer
  # runtimes, and clang's OpenMP (libgomp is GCC's); make test-tsan uses the same clang, LLVM's libomp
  # and its Archer tool (libomp-14-dev ships /usr/lib/llvm-14/lib/libarcher.so)
  clang-14 libclang-rt-14-dev libfuzzer-14-dev libomp-14-dev
  # make test-asan: GCC 12's AddressSanitizer (with LeakSanitizer) and UBSan runtimes
  libasan8 liblsan0 libubsan1
  # libraries the code links
  libeigen3-dev libomp-dev libprotobuf-dev protobuf-compiler
  libboost-serialization-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  # data-parallel training under mpirun (trainers/distributed.h) and its tests (label mpi)
  openmpi-bin libopenmpi-dev
  # Unicode categories, White_Space and NFC for the BPE pre-tokenizers (exporters/tokenizers)
  libicu-dev
  # PyTorch parity tests and baseline benchmarks; python3-torch alone pulls the
  # reference BLAS (~5 GFLOP/s), so OpenBLAS must come with it.
  python3-torch python3-numpy libopenblas0
  # training data for data/: Fashion-MNIST IDX files (images and labels) and the
  # fortunes text files, the default character-level language-model corpus;
  # zlib reads gzipped IDX files
  dataset-fashion-mnist fortunes zlib1g-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# llama.cpp as the reference reader of GGUF exports (node-llama-cpp, npm registry only).
bash "$(dirname "${BASH_SOURCE[0]}")/setup_node.sh"
