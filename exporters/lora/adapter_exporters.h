#pragma once
// The LoRA-adapter entries of the exporter registry (exporters/registry.h): a LoRA run's adapter alone,
// as a Hugging Face PEFT directory (peft_adapter.h) or a llama.cpp LoRA GGUF (gguf_lora_adapter.h).
#include <filesystem>
#include <string>

#include "exporters/registry.h"

namespace qforge::exporters::lora {

std::string export_peft_adapter(const ExportSource& source, const ExportOptions& options, const std::filesystem::path& out);
std::string export_gguf_lora_adapter(const ExportSource& source, const ExportOptions& options,
                                     const std::filesystem::path& out);

}  // namespace qforge::exporters::lora
