#include "ptq/gptq_method.h"

#include <algorithm>
#include <map>
#include <memory>
#include <regex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "fakequant/qat.h"
#include "layers/linear.h"
#include "layers/llama.h"
#include "ptq/gptq.h"
#include "ptq/input_hooks.h"
#include "ptq/rtn.h"

namespace qforge::ptq {
namespace {

struct Target {
  std::string name;
  std::shared_ptr<layers::Linear> linear;
  std::shared_ptr<fakequant::Quantizer> quantizer;
};

struct MethodOptions {
  GptqOptions gptq;
  bool feedback = true;  // false: an identity Hessian, i.e. round to nearest on GPTQ's grid
};

MethodOptions parse_options(const std::string& text) {
  MethodOptions options;
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    start = comma + 1;
    const size_t equals = item.find('=');
    const std::string key = item.substr(0, equals), value = equals == std::string::npos ? "" : item.substr(equals + 1);
    try {
      if (key == "damp" && !value.empty()) options.gptq.damp = std::stod(value);
      else if (key == "block" && !value.empty()) options.gptq.block_size = std::stoll(value);
      else if (key == "act_order" && value.empty()) options.gptq.act_order = options.gptq.static_groups = true;
      else if (key == "rtn" && value.empty()) options.feedback = false;
      else throw std::invalid_argument("unknown");
    } catch (const std::exception&) {
      throw std::invalid_argument("ptq gptq: option '" + item + "' is not one of damp=<fraction>, block=<columns>, act_order, rtn");
    }
  }
  return options;
}

IntGrid grid_of(const Target& t) { return int_grid_of(*t.quantizer, t.name, "gptq"); }

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

// True-sequential subsets (gptq_method.h): the Llama projections of one decoder layer by stage.
std::vector<std::vector<Target>> subsets(const std::vector<Target>& targets) {
  static const std::regex stage(R"(^(.*\.layers\.\d+)\.(self_attn\.(q|k|v)_proj|self_attn\.o_proj|mlp\.(gate|up)_proj|mlp\.down_proj)$)");
  std::vector<std::vector<Target>> out;
  std::map<std::string, size_t> index;
  for (const Target& t : targets) {
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
bool shares_input(const std::vector<Target>& subset) {
  static const std::regex shared(R"(^.*\.layers\.\d+\.(self_attn\.(q|k|v)_proj|mlp\.(gate|up)_proj)$)");
  return subset.size() > 1 && std::all_of(subset.begin(), subset.end(), [](const Target& t) { return std::regex_match(t.name, shared); });
}

void quantize_linear(const Target& t, const std::vector<double>& hessian, const GptqOptions& options) {
  autograd::Variable weight = t.linear->weight();
  autograd::Tensor& data = weight.mutable_data();
  const int64_t rows = t.linear->out_features(), cols = t.linear->in_features();
  const IntGrid grid = grid_of(t);
  const GptqLayer q = gptq_quantize(std::span<const float>(data.data(), static_cast<size_t>(rows * cols)), rows, cols,
                                    hessian, grid, options);
  std::copy(q.weight.begin(), q.weight.end(), data.data());
  fakequant::QuantParams params;
  params.scales = q.scales;
  // GPTQ's symmetric zero (2^(bits-1)) is the signed grid's 0; its asymmetric zero is the unsigned one.
  for (float zero : q.zeros) params.zero_points.push_back(grid.symmetric ? 0 : static_cast<int32_t>(zero));
  t.quantizer->set_params(params);
  // The stored weight becomes exactly what the quantizer's forward computes from it (the float grid
  // values scale * (q - zero) in the quantizer's own arithmetic), so the latent weight, the forward and
  // fakequant::convert() agree bit for bit.
  const autograd::Tensor snapped = t.quantizer->forward(autograd::Variable(data)).data();
  std::copy(snapped.data(), snapped.data() + snapped.numel(), data.data());
}

std::vector<double> identity(int64_t n) {
  std::vector<double> h(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) h[i * n + i] = 1.0;
  return h;
}

std::vector<Target> targets_of(layers::Module& model) {
  std::vector<Target> targets;
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear) continue;
    auto quantizer = std::dynamic_pointer_cast<fakequant::Quantizer>(linear->weight_quantizer());
    if (quantizer) targets.push_back({name, linear, quantizer});
  }
  if (targets.empty()) throw std::invalid_argument("ptq gptq: no Linear has a weight quantizer (check the rules)");
  for (const Target& t : targets) (void)grid_of(t);  // refuse before any work
  return targets;
}

// Collects the Hessians of one subset's inputs over `calibration` and quantizes its layers. q/k/v (and
// gate/up) read one tensor, so the subset's first layer's Hessian serves all (gptq_method.h).
void quantize_subset(const std::vector<Target>& subset, const Calibration& calibration, const MethodOptions& options) {
  const bool shared_input = shares_input(subset);
  std::vector<std::shared_ptr<HessianHook>> hessians;
  std::vector<InputHook> hooks;
  for (const Target& t : subset) {
    if (!options.feedback || (shared_input && !hessians.empty())) continue;
    hessians.push_back(std::make_shared<HessianHook>(t.linear->in_features()));
    hooks.emplace_back(t.linear, hessians.back());
  }
  if (!hooks.empty()) run_with_input_hooks(hooks, calibration);
  for (size_t i = 0; i < subset.size(); ++i) {
    const int64_t columns = subset[i].linear->in_features();
    quantize_linear(subset[i], options.feedback ? hessians[shared_input ? 0 : i]->hessian().matrix() : identity(columns),
                    options.gptq);
  }
}

// Streaming (gptq_method.h): the calibration batches are embedded once; each decoder layer runs on the
// stored hidden states, once per subset and once more, quantized, to give the next layer its inputs.
// Returns the targets outside the decoder layers (e.g. lm_head), left to the full-model passes.
std::vector<Target> quantize_decoder_layers(layers::LlamaForCausalLM& model, const Calibration& calibration,
                                            const std::vector<Target>& targets, const MethodOptions& options) {
  std::vector<autograd::Variable> hidden;
  for (int64_t b = 0; b < calibration.batches; ++b) hidden.push_back(model.model()->embed_tokens()->forward(calibration.token_ids(b)));
  std::vector<bool> done(targets.size(), false);
  for (int64_t i = 0; i < model.config().num_hidden_layers; ++i) {
    const std::shared_ptr<layers::LlamaDecoderLayer> layer = model.model()->layer(static_cast<size_t>(i));
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    std::vector<Target> inside;
    for (size_t k = 0; k < targets.size(); ++k)
      if (targets[k].name.rfind(prefix, 0) == 0) inside.push_back(targets[k]), done[k] = true;
    Calibration on_layer{[&](int64_t b) { (void)layer->forward(hidden[static_cast<size_t>(b)]); }, calibration.batches, {}};
    for (const std::vector<Target>& subset : subsets(inside)) quantize_subset(subset, on_layer, options);
    for (autograd::Variable& h : hidden) h = layer->forward(h);
  }
  std::vector<Target> rest;
  for (size_t k = 0; k < targets.size(); ++k)
    if (!done[k]) rest.push_back(targets[k]);
  return rest;
}

}  // namespace

void quantize_gptq(layers::Module& model, const Calibration& calibration, const std::string& options_text) {
  const MethodOptions options = parse_options(options_text);
  std::vector<Target> targets = targets_of(model);
  // Every weight quantizer starts from round to nearest: layers GPTQ has not reached yet (and
  // Embedding / Conv2d weights, which keep it) need scales for the forward passes.
  fakequant::calibrate_weights(model);
  autograd::NoGradGuard no_grad;
  {
    const FloatLinears float_inputs(model, FloatParts::kInputs);
    auto* llama = dynamic_cast<layers::LlamaForCausalLM*>(&model);
    if (llama != nullptr && calibration.token_ids) targets = quantize_decoder_layers(*llama, calibration, targets, options);
    for (const std::vector<Target>& subset : subsets(targets)) quantize_subset(subset, calibration, options);
  }
  calibrate_activations(model, calibration);
}

}  // namespace qforge::ptq
