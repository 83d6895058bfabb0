#pragma once
// From the run config's `quantization` section to a model with fake quantizers: the rules
// (fakequant/qat.h) and the GGUF preset's rules. The float weights a QAT fine-tune starts from come
// from trainers/run_folder.h load_float_weights.
#include <string>
#include <vector>

#include "fakequant/qat.h"
#include "layers/module.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

// The spec of one QuantizerConfig; errors name `where` (e.g. "quantization.rules[1].weight").
fakequant::QuantizerSpec quantizer_spec(const config::QuantizerConfig& config, const std::string& where);

std::vector<fakequant::QuantRule> quant_rules(const config::QuantizationConfig& config);

// Installs the config's quantizers on `model`: its rules, then the GGUF preset's rules for the layers
// they leave (trainers/gguf_qat.h; needs a LlamaForCausalLM). Nothing without rules or preset.
std::vector<fakequant::PreparedLayer> apply_quantization(layers::Module& model, const config::RunConfig& config);

// True for parameters that belong to a quantizer ("...weight_quantizer.scale").
bool is_quantizer_parameter(const std::string& name);

}  // namespace qforge::trainers
