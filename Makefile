# Two commands on a fresh Debian 12 machine: `make demo` and `make test` (see README.md).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
export OMP_NUM_THREADS ?= 2

.PHONY: all setup configure build demo test bench clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The main job: a character-level Llama trained with Q4_K_M-exact QAT (a few minutes on 2 cores), exported
# to a Q4_K_M GGUF; llama.cpp generates from the file and its probabilities are compared with qforge's.
demo: build
	bash scripts/demo.sh $(BUILD_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure

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
	rm -rf $(BUILD_DIR)
