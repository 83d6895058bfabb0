#pragma once
// PEFT LoRA adapter directories (huggingface/peft; docs/peft-lora.md §1-§4): adapter_model.safetensors
// (names "base_model.model." + qforge name, F32) and adapter_config.json (only known keys).
#include <filesystem>

#include "exporters/lora/lora_adapter.h"

namespace qforge::exporters::lora {

inline constexpr const char* kPeftWeightsFile = "adapter_model.safetensors";
inline constexpr const char* kPeftConfigFile = "adapter_config.json";
inline constexpr const char* kPeftNamePrefix = "base_model.model.";

/// Writes `dir` (created if missing): the validated pairs of `lora` (qforge names) and the minimal
/// adapter_config.json of docs/peft-lora.md §4. target_modules empty -> the sorted distinct module suffixes.
/// Both files are written with io::write_file_atomically.
/// Errors (std::invalid_argument / std::runtime_error) name the directory and the tensor or key.
void save_peft_adapter(const std::filesystem::path& dir, const NamedTensors& lora, const LoraAdapterConfig& config);

/// Reads a PEFT LoRA directory back (tensors in qforge names, F32/F16/BF16 decoded to FP32).
/// Validates peft_type LORA, r / lora_alpha / target_modules, the tensor names and A/B shapes against
/// r; rank_pattern / alpha_pattern, DoRA, lora biases, embedding LoRA, fan_in_fan_out, modules_to_save
/// and layers_to_transform raise "not supported" errors.
LoraAdapter load_peft_adapter(const std::filesystem::path& dir);

}  // namespace qforge::exporters::lora
