// LoRA merge into FP32 weights (apply_lora.h).
#include "exporters/lora/apply_lora.h"

#include <map>
#include <stdexcept>
#include <vector>

#include "exporters/lora/gguf_lora_adapter.h"
#include "exporters/lora/peft_adapter.h"

namespace qforge::exporters::lora {

void apply_lora(layers::Module& model, const LoraAdapter& adapter, double user_scale) {
  std::map<std::string, autograd::Variable> params;
  for (auto& [name, p] : model.named_parameters()) params.emplace(name, p);
  const float scale = static_cast<float>(user_scale * adapter.config.scaling());
  for (const LoraPair& pair : lora_pairs(adapter.tensors, adapter.config.r, "apply lora")) {
    const std::string weight_name = pair.module + ".weight";
    auto it = params.find(weight_name);
    if (it == params.end()) throw std::invalid_argument("apply lora: base tensor '" + weight_name + "' not found in the model");
    autograd::Tensor& w = it->second.mutable_data();
    const int64_t r = pair.a->shape()[0], in = pair.a->shape()[1], out = pair.b->shape()[0];
    if (w.shape().ndim() != 2 || w.shape()[0] != out || w.shape()[1] != in)
      throw std::invalid_argument("apply lora: tensor '" + weight_name + "' shape " + w.shape().to_string() +
                                  " != [lora_B rows " + std::to_string(out) + ", lora_A cols " + std::to_string(in) + "]");
    const float* a = pair.a->data();
    const float* b = pair.b->data();
    float* wd = w.data();
#pragma omp parallel for
    for (int64_t o = 0; o < out; ++o) {
      std::vector<float> row(static_cast<size_t>(in), 0.0f);
      for (int64_t k = 0; k < r; ++k) {
        const float bk = b[o * r + k];
        for (int64_t i = 0; i < in; ++i) row[i] += bk * a[k * in + i];
      }
      for (int64_t i = 0; i < in; ++i) wd[o * in + i] += scale * row[i];
    }
  }
}

LoraAdapter load_lora_adapter(const std::filesystem::path& path, const layers::LlamaConfig& base) {
  if (std::filesystem::is_directory(path)) return load_peft_adapter(path);
  return read_gguf_lora_adapter(path, base);
}

}  // namespace qforge::exporters::lora
