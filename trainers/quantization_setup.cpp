#include "trainers/quantization_setup.h"

#include <stdexcept>

#include "trainers/gguf_qat.h"

namespace qforge::trainers {

fakequant::QuantizerSpec quantizer_spec(const config::QuantizerConfig& config, const std::string& where) {
  if (config.scheme().empty()) throw std::invalid_argument(where + ".scheme: empty (e.g. \"int4:channel\")");
  fakequant::QuantizerSpec spec;
  try {
    spec = fakequant::parse_scheme(config.scheme());
    if (config.freeze_after_steps() > 0) spec.observer.freeze_after_steps = config.freeze_after_steps();
    if (config.percentile() > 0) spec.observer.percentile = config.percentile();
    if (config.averaging_constant() > 0) spec.observer.averaging_constant = config.averaging_constant();
    fakequant::validate(spec, config.scheme());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + ": " + e.what());
  }
  return spec;
}

std::vector<fakequant::QuantRule> quant_rules(const config::QuantizationConfig& config) {
  std::vector<fakequant::QuantRule> rules;
  for (int i = 0; i < config.rules_size(); ++i) {
    const config::QuantRule& r = config.rules(i);
    const std::string where = "quantization.rules[" + std::to_string(i) + "]";
    if (r.pattern().empty()) throw std::invalid_argument(where + ".pattern: empty (use \"*\" for every layer)");
    fakequant::QuantRule rule;
    rule.pattern = r.pattern();
    rule.skip = r.skip();
    if (r.has_weight()) rule.weight = quantizer_spec(r.weight(), where + ".weight");
    if (r.has_input()) rule.input = quantizer_spec(r.input(), where + ".input");
    if (!rule.skip && !rule.weight && !rule.input) {
      throw std::invalid_argument(where + " ('" + r.pattern() + "'): give a weight or input quantizer, or skip: true");
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<fakequant::PreparedLayer> apply_quantization(layers::Module& model, const config::RunConfig& config) {
  const config::QuantizationConfig& q = config.quantization();
  if (q.rules_size() == 0 && q.preset().empty()) return {};  // init_from alone: a float fine-tune
  std::vector<fakequant::QuantRule> rules = quant_rules(q);
  if (!q.preset().empty()) {
    const auto* llama = dynamic_cast<const layers::LlamaForCausalLM*>(&model);
    if (llama == nullptr) throw std::invalid_argument("quantization.preset '" + q.preset() + "': GGUF presets need model.llama");
    for (fakequant::QuantRule& rule : gguf_preset_rules(*llama, q.preset(), rules, !q.imatrix().empty())) rules.push_back(std::move(rule));
  }
  return fakequant::prepare_qat(model, rules);
}

bool is_quantizer_parameter(const std::string& name) { return name.find("_quantizer.") != std::string::npos; }

}  // namespace qforge::trainers
