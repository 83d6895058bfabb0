#include "ptq/sequential.h"

#include <algorithm>
#include <map>
#include <regex>
#include <span>
#include <stdexcept>

#include "autograd/variable.h"
#include "layers/llama.h"
#include "ptq/gptq.h"
#include "ptq/input_hooks.h"
#include "ptq/int_grid.h"

namespace qforge::ptq {
namespace {

// Identity on the forward pass; accumulates the Hessian of the layer's (float) input.
class HessianHook : public layers::UnaryModule {
 public:
  explicit HessianHook(int64_t columns) : hessian_(columns) {}
  autograd::Variable forward(const autograd::Variable& x) override {
    hessian_.add(std::span<const float>(x.data().data(), static_cast<size_t>(x.numel())));
    return x;
  }
  const HessianAccumulator& hessian() const { return hessian_; }

 private:
  HessianAccumulator hessian_;
};

// True-sequential subsets (sequential.h): the Llama projections of one decoder layer by stage.
std::vector<std::vector<LinearTarget>> subsets(const std::vector<LinearTarget>& targets) {
  static const std::regex stage(R"(^(.*\.layers\.\d+)\.(self_attn\.(q|k|v)_proj|self_attn\.o_proj|mlp\.(gate|up)_proj|mlp\.down_proj)$)");
  std::vector<std::vector<LinearTarget>> out;
  std::map<std::string, size_t> index;
  for (const LinearTarget& t : targets) {
    std::smatch m;
    std::string key = t.name;
    if (std::regex_match(t.name, m, stage)) {
      const std::string part = m[2];
      key = m[1].str() + (part.rfind("self_attn.o", 0) == 0 ? "#o" : part.rfind("self_attn", 0) == 0 ? "#qkv"
                                                             : part.rfind("mlp.down", 0) == 0 ? "#down" : "#gate_up");
    }
    if (!index.count(key)) index[key] = out.size(), out.emplace_back();
    out[index[key]].push_back(t);
  }
  return out;
}

// Whether every layer of a subset reads the same tensor: a Llama stage of q/k/v or gate/up.
bool shares_input(const std::vector<LinearTarget>& subset) {
  static const std::regex shared(R"(^.*\.layers\.\d+\.(self_attn\.(q|k|v)_proj|mlp\.(gate|up)_proj)$)");
  return subset.size() > 1 &&
         std::all_of(subset.begin(), subset.end(), [](const LinearTarget& t) { return std::regex_match(t.name, shared); });
}

// Collects the Hessians of one subset's inputs over `calibration` and quantizes its layers. q/k/v (and
// gate/up) read one tensor, so the subset's first layer's Hessian serves all.
void quantize_subset(const std::vector<LinearTarget>& subset, const Calibration& calibration, const QuantizeLinear& quantize) {
  const bool shared_input = shares_input(subset);
  std::vector<std::shared_ptr<HessianHook>> hessians;
  std::vector<InputHook> hooks;
  for (const LinearTarget& t : subset) {
    if (shared_input && !hessians.empty()) break;
    hessians.push_back(std::make_shared<HessianHook>(t.linear->in_features()));
    hooks.emplace_back(t.linear, hessians.back());
  }
  run_with_input_hooks(hooks, calibration);
  for (size_t i = 0; i < subset.size(); ++i) quantize(subset[i], hessians[shared_input ? 0 : i]->hessian().matrix());
}

// Streaming (sequential.h): the calibration batches are embedded once; each decoder layer runs on the
// stored hidden states, once per subset and once more, quantized, to give the next layer its inputs.
// Returns the targets outside the decoder layers (e.g. lm_head), left to full-model passes.
std::vector<LinearTarget> quantize_decoder_layers(layers::LlamaForCausalLM& model, const Calibration& calibration,
                                                  const std::vector<LinearTarget>& targets, const QuantizeLinear& quantize,
                                                  const DecoderLayerHook& hook) {
  std::vector<autograd::Variable> hidden;
  for (int64_t b = 0; b < calibration.batches; ++b)
    hidden.push_back(model.model()->embed_tokens()->forward(calibration.token_ids(b)));
  std::vector<bool> done(targets.size(), false);
  for (int64_t i = 0; i < model.config().num_hidden_layers; ++i) {
    const std::shared_ptr<layers::LlamaDecoderLayer> layer = model.model()->layer(static_cast<size_t>(i));
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    std::vector<LinearTarget> inside;
    for (size_t k = 0; k < targets.size(); ++k)
      if (targets[k].name.rfind(prefix, 0) == 0) inside.push_back(targets[k]), done[k] = true;
    const Calibration on_layer{[&](int64_t b) { (void)layer->forward(hidden[static_cast<size_t>(b)]); }, calibration.batches, {}};
    const std::vector<std::vector<LinearTarget>> stages = subsets(inside);
    const std::string name = "model.layers." + std::to_string(i);
    if (hook) hook({*layer, name, hidden, -1, stages.empty()});
    for (size_t s = 0; s < stages.size(); ++s) {
      quantize_subset(stages[s], on_layer, quantize);
      if (hook) hook({*layer, name, hidden, static_cast<int>(s), s + 1 == stages.size()});
    }
    for (autograd::Variable& h : hidden) h = layer->forward(h);
  }
  std::vector<LinearTarget> rest;
  for (size_t k = 0; k < targets.size(); ++k)
    if (!done[k]) rest.push_back(targets[k]);
  return rest;
}

}  // namespace

std::vector<LinearTarget> quantized_linears(layers::Module& model, const std::string& method, bool integer_grid) {
  std::vector<LinearTarget> targets;
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear) continue;
    auto quantizer = std::dynamic_pointer_cast<fakequant::Quantizer>(linear->weight_quantizer());
    if (quantizer) targets.push_back({name, linear, quantizer});
  }
  if (targets.empty()) throw std::invalid_argument("ptq " + method + ": no Linear has a weight quantizer (check the rules)");
  if (integer_grid)
    for (const LinearTarget& t : targets) (void)int_grid_of(*t.quantizer, t.name, method);  // refuse before any work
  return targets;
}

void quantize_true_sequential(layers::Module& model, const Calibration& calibration,
                              const std::vector<LinearTarget>& targets, const QuantizeLinear& quantize,
                              const DecoderLayerHook& hook) {
  autograd::NoGradGuard no_grad;
  const FloatLinears float_inputs(model, FloatParts::kInputs);
  std::vector<LinearTarget> rest = targets;
  auto* llama = dynamic_cast<layers::LlamaForCausalLM*>(&model);
  if (llama != nullptr && calibration.token_ids) rest = quantize_decoder_layers(*llama, calibration, targets, quantize, hook);
  for (const std::vector<LinearTarget>& subset : subsets(rest)) quantize_subset(subset, calibration, quantize);
}

}  // namespace qforge::ptq
