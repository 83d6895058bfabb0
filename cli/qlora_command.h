#pragma once
// `qforge qlora --base (RUN_DIR | FILE.gguf) --config F`: LoRA / QLoRA fine-tuning. The base stays frozen
// (NF4 by default, or a GGUF file's own blocks) and only the adapters train, with the usual optimizer,
// schedule, progress, metrics and resumable checkpoints (which hold adapters and optimizer state only).
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace qforge::cli {

struct QloraArguments {
  std::string base, config_path, run_dir, base_format;
  std::vector<std::string> overrides;
  bool fresh = false;
};

void add_qlora(CLI::App& app, QloraArguments& args);
int run_qlora(const QloraArguments& args);

}  // namespace qforge::cli
