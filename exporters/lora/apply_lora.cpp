// LoRA merge into FP32 weights (apply_lora.h).
#include "exporters/lora/apply_lora.h"

#include <map>
#include <stdexcept>
#include <vector>

#include "exporters/lora/gguf_lora_adapter.h"
#include "exporters/lora/peft_adapter.h"
#include "layers/lora.h"

namespace qforge::exporters::lora {

void apply_lora(layers::Module& model, const LoraAdapter& adapter, double user_scale) {
  std::map<std::string, autograd::Variable> params;
  for (auto& [name, p] : model.named_parameters()) params.emplace(name, p);
  const float scale = static_cast<float>(user_scale * adapter.config.scaling());
  for (const LoraPair& pair : lora_pairs(adapter.tensors, adapter.config.r, "apply lora")) {
    const std::string weight_name = pair.module + ".weight";
    auto it = params.find(weight_name);
    if (it == params.end()) throw std::invalid_argument("apply lora: base tensor '" + weight_name + "' not found in the model");
    layers::add_lora_product(it->second.mutable_data(), *pair.a, *pair.b, scale, weight_name);
  }
}

LoraAdapter load_lora_adapter(const std::filesystem::path& path, const layers::LlamaConfig& base) {
  if (std::filesystem::is_directory(path)) return load_peft_adapter(path);
  return read_gguf_lora_adapter(path, base);
}

}  // namespace qforge::exporters::lora
