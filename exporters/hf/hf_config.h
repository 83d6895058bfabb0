#pragma once
// config.json of a Hugging Face model folder -> layers::LlamaConfig. Architectures
// LlamaForCausalLM and MistralForCausalLM (transformers/models/{llama,mistral}/modeling_*.py: the
// same graph) and Qwen2ForCausalLM (models/qwen2/modeling_qwen2.py: q/k/v_proj with bias). Every key
// of the file is either mapped, checked to leave the math unchanged, or known not to touch the
// forward pass (bos_token_id, torch_dtype, ...); anything else is refused with the key named, so a
// model is never run with a silently different graph. docs/hf.md lists the keys.
#include <filesystem>
#include <string>

#include "layers/llama_config.h"

namespace qforge::exporters::hf {

struct HfConfig {
  std::string architecture;  ///< "LlamaForCausalLM", "MistralForCausalLM" or "Qwen2ForCausalLM"
  layers::LlamaConfig llama;
  /// The quantization config object as JSON text, checked readable (hf_quant_import.h); empty: none.
  std::string quantization_config;
  /// The config.json key it came from: "quantization_config", or a --quant row's own key (quip-sharp's
  /// "quip_params", hf_quant_export.h config_object).
  std::string quantization_key = "quantization_config";
};

/// Parses config.json text; `source` names the file in errors (std::runtime_error
/// "hf '<source>': key 'rope_scaling.rope_type': ...").
HfConfig parse_hf_config(const std::string& text, const std::string& source);
/// Reads and parses `path`.
HfConfig read_hf_config(const std::filesystem::path& path);

}  // namespace qforge::exporters::hf
