# Two commands on a fresh Debian 12 machine: `make demo` and `make test` (see README.md).
BUILD_DIR ?= build
FUZZ_DIR ?= build-fuzz
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
JOBS ?= $(shell nproc)
# Executions per target of `make fuzz` (the campaign; README.md, Reliability).
FUZZ_EXECS ?= 10000000
export OMP_NUM_THREADS ?= 2

.PHONY: all setup configure build fuzz-build asan-build tsan-build demo test test-fuzz test-asan test-tsan fuzz bench clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The fuzz build (fuzz/CMakeLists.txt): clang++-14, libFuzzer, AddressSanitizer + UBSan, readers only.
fuzz-build: setup
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=clang++-14 -DQFORGE_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS)

# The sanitizer builds (CMakeLists.txt, QFORGE_SANITIZE; README.md, Reliability). Not part of `make test`
# (its 30-minute budget) nor of .ci/run: on the shared 2-core machine their builds alone take over an hour
# (README.md, Reliability has the measured times). AddressSanitizer + UBSan with GCC 12: every library, the
# command and every test, -O2 -g (QFORGE_SANITIZE_OPT).
asan-build: setup
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Release -DQFORGE_SANITIZE=address,undefined >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)

# ThreadSanitizer with clang++-14 and LLVM's libomp + Archer: only the tests labelled `parallel`.
tsan-build: setup
	@cmake -S . -B $(TSAN_DIR) -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Release -DQFORGE_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_DIR) -j $(JOBS) --target qforge_parallel_tests

# The whole suite under ASan + UBSan, less the label no_asan (tests/sanitizers/sanitizer_tests.cmake says why),
# two at a time; --timeout for the tests without their own (those scale by QFORGE_TIMEOUT_SCALE).
test-asan: asan-build
	cd $(ASAN_DIR) && ctest --output-on-failure -LE no_asan -j 2 --timeout 6000

test-tsan: tsan-build
	cd $(TSAN_DIR) && ctest --output-on-failure -L parallel

# The main job: a character-level Llama trained with Q4_K_M-exact QAT (a few minutes on 2 cores), exported
# to a Q4_K_M GGUF; llama.cpp generates from the file and its probabilities are compared with qforge's.
demo: build
	bash scripts/demo.sh $(BUILD_DIR)

# Both builds' tests; the second part is `make test-fuzz`. Both run even when the first fails.
test: build fuzz-build
	@status=0; (cd $(BUILD_DIR) && ctest --output-on-failure) || status=1; \
	  $(MAKE) --no-print-directory test-fuzz || status=1; exit $$status

# ctest label fuzz: every target fuzzed for 60 s from its seeds, two at a time (2 cores: 14 targets take
# about 7 minutes), and the seeds and kept reproducers replayed under the sanitizers.
test-fuzz: fuzz-build
	cd $(FUZZ_DIR) && ctest --output-on-failure -L fuzz -j 2

# The campaign (not CI): at least FUZZ_EXECS executions per target, one target per core, then a
# `fuzz TARGET execs=N crashes=0 ooms=0 timeouts=0` line per target (fuzz/campaign.py).
fuzz: fuzz-build
	/usr/bin/python3 fuzz/campaign.py --build $(FUZZ_DIR) --execs $(FUZZ_EXECS) --jobs $(JOBS)

bench: build
	/usr/bin/python3 bench/compare.py --server $(BUILD_DIR)/bench/qforge_bench_server
	/usr/bin/python3 bench/compare_training.py --qforge $(BUILD_DIR)/cli/qforge --run-root $(BUILD_DIR)/bench-runs
	/usr/bin/python3 bench/gguf_quantize.py --build $(BUILD_DIR)
	/usr/bin/python3 bench/qlora_memory.py --build $(BUILD_DIR)
	/usr/bin/python3 bench/ptq_gptq.py --build $(BUILD_DIR)
	/usr/bin/python3 bench/ptq_awq.py --build $(BUILD_DIR)
	/usr/bin/python3 bench/ptq_model.py --build $(BUILD_DIR)
	/usr/bin/python3 bench/hf_import.py --build $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR) $(ASAN_DIR) $(TSAN_DIR)
