#pragma once
// `qforge export --checkpoint LORA_RUN --format peft|gguf-lora -o OUT`: the adapter of a LoRA run
// alone, as a PEFT directory (adapter_model.safetensors + adapter_config.json) or as a llama.cpp GGUF
// LoRA adapter for the base GGUF (`llama-cli -m base.gguf --lora OUT`, `qforge probs --lora OUT`).
#include <string>

namespace qforge::cli {

// Prints one line naming what was written; errors name the run or the file.
void export_lora_adapter(const std::string& checkpoint, const std::string& format, const std::string& out);

}  // namespace qforge::cli
