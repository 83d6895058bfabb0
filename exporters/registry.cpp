// The exporter table (registry.h).
#include "exporters/registry.h"

#include <stdexcept>

#include "exporters/gguf/llama_exporter.h"
#include "exporters/hf/hf_exporter.h"
#include "exporters/lora/adapter_exporters.h"

namespace qforge::exporters {

std::span<const Exporter> exporters() {
  static constexpr Exporter kExporters[] = {
      {"gguf", "llama.cpp GGUF of the model (a LoRA run is merged first); --type, --imatrix", ExportInput::kModel,
       true, &gguf::export_llama_gguf},
      {"peft", "LoRA runs: the adapter alone as a Hugging Face PEFT directory", ExportInput::kLoraAdapter, false,
       &lora::export_peft_adapter},
      {"gguf-lora", "LoRA runs: the adapter alone as a llama.cpp LoRA GGUF for the base's GGUF",
       ExportInput::kLoraAdapter, false, &lora::export_gguf_lora_adapter},
      {"hf", "Hugging Face model folder (config.json, safetensors shards); --dtype, --max-shard-size, --quant",
       ExportInput::kModel, false, &hf::export_hf},
  };
  return kExporters;
}

const Exporter& find_exporter(const std::string& name) {
  std::string names;
  for (const Exporter& e : exporters()) {
    if (e.name == name) return e;
    names += (names.empty() ? "" : ", ") + std::string(e.name);
  }
  throw std::invalid_argument("export: unknown format '" + name + "' (expected one of: " + names + ")");
}

std::string exporter_help() {
  std::string out;
  for (const Exporter& e : exporters()) out += (out.empty() ? "" : "; ") + std::string(e.name) + ": " + std::string(e.summary);
  return out;
}

}  // namespace qforge::exporters
