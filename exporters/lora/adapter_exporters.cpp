#include "exporters/lora/adapter_exporters.h"

#include <cstdio>
#include <stdexcept>

#include "exporters/lora/gguf_lora_adapter.h"
#include "exporters/lora/peft_adapter.h"

namespace qforge::exporters::lora {
namespace {

const LoraAdapterExport& adapter_of(const ExportSource& source, const char* format) {
  if (!source.adapter) throw std::logic_error(std::string("export ") + format + ": the source has no LoRA adapter");
  return *source.adapter;
}

// "wrote OUT (FORMAT LoRA adapter: N tensors, r=R, alpha=A, targets T...; base B)".
std::string summary(const std::filesystem::path& out, const char* format, const LoraAdapter& adapter) {
  char numbers[128];
  std::snprintf(numbers, sizeof numbers, "%zu tensors, r=%lld, alpha=%g", adapter.tensors.size(),
                static_cast<long long>(adapter.config.r), adapter.config.lora_alpha);
  std::string line = "wrote " + out.string() + " (" + format + " LoRA adapter: " + numbers + ", targets";
  for (const std::string& t : adapter.config.target_modules) line += " " + t;
  return line + "; base " + adapter.config.base_model_name_or_path + ")";
}

}  // namespace

std::string export_peft_adapter(const ExportSource& source, const ExportOptions&, const std::filesystem::path& out) {
  const LoraAdapter& adapter = adapter_of(source, "peft").adapter;
  save_peft_adapter(out, adapter.tensors, adapter.config);
  return summary(out, "peft", adapter);
}

std::string export_gguf_lora_adapter(const ExportSource& source, const ExportOptions&, const std::filesystem::path& out) {
  const LoraAdapterExport& trained = adapter_of(source, "gguf-lora");
  write_gguf_lora_adapter(out, trained.adapter.tensors, trained.adapter.config, trained.base_config);
  return summary(out, "gguf-lora", trained.adapter);
}

}  // namespace qforge::exporters::lora
