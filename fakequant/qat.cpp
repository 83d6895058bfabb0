#include "fakequant/qat.h"

#include <stdexcept>

#include "layers/quantizable.h"

namespace qforge::fakequant {
namespace {

using autograd::Shape;
using autograd::Variable;
using layers::Module;
using layers::Quantizable;

struct QuantizableLayer {
  std::string name;
  Quantizable* layer;
  bool takes_values;  // false for Embedding (ids in)
};

std::vector<QuantizableLayer> quantizable_layers(Module& model) {
  std::vector<QuantizableLayer> found;
  // The model itself may be the layer (a bare Linear): it is named "".
  if (auto* layer = dynamic_cast<Quantizable*>(&model)) {
    found.push_back({"", layer, dynamic_cast<layers::UnaryModule*>(&model) != nullptr});
  }
  for (auto& [name, module] : model.named_modules()) {
    auto* layer = dynamic_cast<Quantizable*>(module.get());
    if (!layer) continue;
    const bool takes_values = dynamic_cast<layers::UnaryModule*>(module.get()) != nullptr;
    found.push_back({name, layer, takes_values});
  }
  return found;
}

std::string child_name(const std::string& layer, const char* child) {
  return layer.empty() ? child : layer + "." + child;
}

bool rule_matches(const QuantRule& rule, const std::string& layer_name) {
  return glob_match(rule.pattern, layer_name) || glob_match(rule.pattern, child_name(layer_name, "weight"));
}

// The shape the input quantizer is built for: only the last dimension (the layer's input width)
// matters. Linear weights are [out, in]; Conv2d inputs are NCHW, so their "last dimension" is the
// image width and per-channel activation scales are not offered for convolutions.
Shape input_shape_of(const Quantizable& layer) {
  const Shape& weight = layer.quantizable_weight().shape();
  return Shape{1, weight.ndim() == 2 ? weight[1] : weight[weight.ndim() - 1]};
}

void install(const QuantizableLayer& target, const QuantRule& rule) {
  const std::string where = "rule '" + rule.pattern + "' on " + target.name;
  if (rule.weight) {
    target.layer->set_weight_quantizer(std::make_shared<Quantizer>(
        *rule.weight, QuantizerRole::kWeight, target.layer->quantizable_weight().shape(), where + " weight"));
  }
  if (rule.input && target.takes_values) {
    if (target.layer->quantizable_weight().ndim() != 2 && rule.input->granularity.kind == Granularity::kPerChannel &&
        !rule.input->dynamic_per_token) {
      throw std::invalid_argument(where + ": per-channel input scales are supported for Linear layers only");
    }
    target.layer->set_input_quantizer(
        std::make_shared<Quantizer>(*rule.input, QuantizerRole::kActivation, input_shape_of(*target.layer), where + " input"));
  }
}

}  // namespace

std::vector<PreparedLayer> prepare_qat(Module& model, const std::vector<QuantRule>& rules) {
  const std::vector<QuantizableLayer> targets = quantizable_layers(model);
  std::vector<bool> rule_used(rules.size(), false);
  std::vector<PreparedLayer> prepared;
  for (const QuantizableLayer& target : targets) {
    for (size_t r = 0; r < rules.size(); ++r) {
      if (!rule_matches(rules[r], target.name)) continue;
      rule_used[r] = true;
      if (!rules[r].skip) {
        install(target, rules[r]);
        prepared.push_back({target.name, rules[r].pattern, rules[r].weight,
                            target.takes_values ? rules[r].input : std::nullopt});
      }
      break;
    }
  }
  for (size_t r = 0; r < rules.size(); ++r) {
    if (rule_used[r]) continue;
    std::string names;
    for (const QuantizableLayer& target : targets) names += (names.empty() ? "" : ", ") + target.name;
    throw std::invalid_argument("prepare_qat: rule '" + rules[r].pattern +
                                "' matches no quantizable layer that an earlier rule did not take (layers: " + names + ")");
  }
  return prepared;
}

std::vector<std::pair<std::string, std::shared_ptr<Quantizer>>> quantizers_of(Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<Quantizer>>> found;
  for (auto& [name, module] : model.named_modules()) {
    if (auto quantizer = std::dynamic_pointer_cast<Quantizer>(module)) found.emplace_back(name, quantizer);
  }
  return found;
}

void calibrate_weights(Module& model) {
  for (const QuantizableLayer& target : quantizable_layers(model)) {
    if (auto quantizer = std::dynamic_pointer_cast<Quantizer>(target.layer->weight_quantizer())) {
      quantizer->calibrate_weight(target.layer->quantizable_weight().data());
    }
  }
}

ConvertedModel convert(Module& model) {
  ConvertedModel converted;
  autograd::NoGradGuard no_grad;
  for (const QuantizableLayer& target : quantizable_layers(model)) {
    auto weight_quantizer = std::dynamic_pointer_cast<Quantizer>(target.layer->weight_quantizer());
    // A post-training method may have replaced the rules' quantizer by one whose codes a QuantizedTensor
    // (contiguous groups, one spec) cannot hold: SpQR, QuIP#, GPTQ act-order with dynamic groups. Leaving
    // the weight out would hand an exporter a model with a float weight it believes quantized.
    if (target.layer->weight_quantizer() && !weight_quantizer) {
      throw std::invalid_argument("convert: " + child_name(target.name, "weight") +
                                  ": its weight quantizer is a post-training representation (SpQR, QuIP#, GPTQ "
                                  "act-order with dynamic groups; fakequant/saved_weight_quantizers.h) that a "
                                  "QuantizedTensor cannot express; read its codes from the quantizer itself");
    }
    if (weight_quantizer && !weight_quantizer->spec().is_ggml_block()) {
      const Variable& weight = target.layer->quantizable_weight();
      // A forward refreshes observer-driven weight scales to the final weights (quantizer.h).
      const bool was_training = weight_quantizer->is_training();
      weight_quantizer->eval();
      weight_quantizer->forward(weight);
      weight_quantizer->train(was_training);
      converted.weights.push_back({child_name(target.name, "weight"),
                                   quantize_tensor(weight.data(), weight_quantizer->current_params(), weight_quantizer->spec())});
    }
    if (auto input_quantizer = std::dynamic_pointer_cast<Quantizer>(target.layer->input_quantizer())) {
      ConvertedActivation activation{child_name(target.name, "input"), input_quantizer->spec(), {}};
      if (!input_quantizer->spec().dynamic_per_token) activation.params = input_quantizer->current_params();
      converted.activations.push_back(std::move(activation));
    }
  }
  return converted;
}

}  // namespace qforge::fakequant
