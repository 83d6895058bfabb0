#include "cli/lora_export.h"

#include <cstdio>
#include <stdexcept>

#include "exporters/lora/gguf_lora_adapter.h"
#include "exporters/lora/peft_adapter.h"
#include "trainers/lora_model.h"

namespace qforge::cli {

void export_lora_adapter(const std::string& checkpoint, const std::string& format, const std::string& out) {
  const trainers::TrainedLoraAdapter trained = trainers::restore_lora_adapter(checkpoint);
  const exporters::lora::LoraAdapter& adapter = trained.adapter;
  if (format == "peft") {
    exporters::lora::save_peft_adapter(out, adapter.tensors, adapter.config);
  } else if (format == "gguf-lora") {
    exporters::lora::write_gguf_lora_adapter(out, adapter.tensors, adapter.config, trained.base_config);
  } else {
    throw std::invalid_argument("export: --format " + format + " is not an adapter format (peft, gguf-lora)");
  }
  std::printf("wrote %s (%s LoRA adapter: %zu tensors, r=%lld, alpha=%g, targets", out.c_str(), format.c_str(),
              adapter.tensors.size(), static_cast<long long>(adapter.config.r), adapter.config.lora_alpha);
  for (const std::string& t : adapter.config.target_modules) std::printf(" %s", t.c_str());
  std::printf("; base %s)\n", adapter.config.base_model_name_or_path.c_str());
}

}  // namespace qforge::cli
