#pragma once
// A LoRA adapter as plain named tensors in qforge (= Hugging Face) names:
//   "<module>.lora_A.weight" [r, in] and "<module>.lora_B.weight" [out, r], e.g. module
//   "model.layers.0.self_attn.q_proj"; W_eff = W + scaling · B A (docs/peft-lora.md §3).
// The file formats (PEFT directory, GGUF adapter) and applying an adapter to a model build on this.
#include <string>
#include <vector>

#include "exporters/safetensors/safetensors.h"

namespace qforge::exporters::lora {

/// The adapter_config.json fields qforge models (docs/peft-lora.md §4). scaling() = lora_alpha / r, or
/// lora_alpha / sqrt(r) with use_rslora.
struct LoraAdapterConfig {
  int64_t r = 8;
  double lora_alpha = 16.0;
  /// Module name suffixes the adapter targets, e.g. {"q_proj", "v_proj"}; empty on save = derived
  /// from the tensors.
  std::vector<std::string> target_modules;
  double lora_dropout = 0.0;
  bool use_rslora = false;
  std::string base_model_name_or_path;

  double scaling() const;
};

struct LoraAdapter {
  NamedTensors tensors;  // qforge names, FP32
  LoraAdapterConfig config;
};

/// One adapted module: A [r, in] and B [out, r] (pointers into a NamedTensors).
struct LoraPair {
  std::string module;  // e.g. "model.layers.0.self_attn.q_proj"
  const autograd::Tensor* a = nullptr;
  const autograd::Tensor* b = nullptr;
};

inline constexpr const char* kLoraASuffix = ".lora_A.weight";
inline constexpr const char* kLoraBSuffix = ".lora_B.weight";

/// Pairs the tensors by module (sorted by module name) and checks them: every name ends in
/// .lora_A.weight / .lora_B.weight, both halves exist, A and B are 2-D with A rows = B cols = r
/// (when r > 0; r <= 0 only requires one rank for all). Errors (std::invalid_argument) start with
/// `source` and name the tensor and the field.
std::vector<LoraPair> lora_pairs(const NamedTensors& tensors, int64_t r, const std::string& source);

/// "model.layers.0.self_attn.q_proj" -> "q_proj".
std::string module_suffix(const std::string& module);

}  // namespace qforge::exporters::lora
