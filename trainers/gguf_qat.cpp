#include "trainers/gguf_qat.h"

#include <stdexcept>

#include "exporters/gguf/llama_type_mix.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::trainers {
namespace {

bool taken_by(const std::vector<fakequant::QuantRule>& rules, const std::string& layer) {
  for (const fakequant::QuantRule& rule : rules) {
    // The same test as prepare_qat: the layer's name or its weight's parameter name.
    if (fakequant::glob_match(rule.pattern, layer) || fakequant::glob_match(rule.pattern, layer + ".weight")) return true;
  }
  return false;
}

// "model.layers.0.mlp.up_proj.weight" -> "model.layers.0.mlp.up_proj".
std::string layer_of(const std::string& parameter) {
  const std::string suffix = ".weight";
  return parameter.substr(0, parameter.size() - suffix.size());
}

// IQ2_XXS, IQ2_XS and IQ1_S encode only with an importance matrix (ggml_quantize_requires_imatrix;
// BlockType::needs_importance) and fake quantization has none, so a preset whose mix gives a layer one
// of them cannot train it: say so at config time, naming the layer and a way out, instead of the fake
// quantizer's generic "not a GGUF block type" (docs/gguf.md §7).
void check_trainable(const std::string& preset, const std::string& parameter, uint32_t ggml_type) {
  const fakequant::ggml::BlockType& type = fakequant::ggml::block_type(static_cast<int>(ggml_type));
  if (!type.needs_importance) return;
  throw std::invalid_argument("quantization.preset: " + preset + " gives " + parameter + " the type " +
                              fakequant::ggml::display_name(type) +
                              ", which needs an importance matrix that format-exact QAT does not have; "
                              "give the layer an earlier rule or train another preset");
}

}  // namespace

std::vector<fakequant::QuantRule> gguf_preset_rules(const layers::LlamaForCausalLM& model, const std::string& preset,
                                                    const std::vector<fakequant::QuantRule>& earlier) {
  namespace gg = exporters::gguf;
  gg::LlamaFileType type;
  try {
    type = gg::parse_llama_file_type(preset);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("quantization.preset: " + std::string(e.what()));
  }
  if (type == gg::LlamaFileType::kF32) throw std::invalid_argument("quantization.preset: F32 quantizes nothing");
  std::vector<fakequant::QuantRule> rules;
  for (const auto& [parameter, ggml_type] : gg::llama_mix_types(model, type)) {
    if (ggml_type == fakequant::ggml::kGgmlF32) continue;  // norms (1-D): llama.cpp keeps them F32
    const std::string layer = layer_of(parameter);
    if (taken_by(earlier, layer)) continue;
    check_trainable(preset, parameter, ggml_type);
    fakequant::QuantRule rule;
    rule.pattern = layer;
    rule.weight = fakequant::QuantizerSpec{};
    rule.weight->ggml_type = static_cast<int>(ggml_type);
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::map<std::string, uint32_t> trained_ggml_types(layers::Module& model) {
  std::map<std::string, uint32_t> types;
  for (const auto& [name, quantizer] : fakequant::quantizers_of(model)) {
    if (quantizer->role() != fakequant::QuantizerRole::kWeight || !quantizer->spec().is_ggml_block()) continue;
    // "<layer>.weight_quantizer" quantizes "<layer>.weight".
    const std::string layer = name.substr(0, name.rfind(".weight_quantizer"));
    types[layer + ".weight"] = static_cast<uint32_t>(quantizer->spec().ggml_type);
  }
  return types;
}

}  // namespace qforge::trainers
