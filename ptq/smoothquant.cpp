#include "ptq/smoothquant.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "autograd/variable.h"
#include "ptq/input_hooks.h"
#include "ptq/method.h"
#include "ptq/method_options.h"
#include "ptq/rtn.h"

namespace qforge::ptq {
namespace {

// Identity on the forward pass; the running max |x| of every input channel.
class ChannelMaxHook : public layers::UnaryModule {
 public:
  explicit ChannelMaxHook(int64_t columns) : max_(static_cast<size_t>(columns), 0.0f) {}
  autograd::Variable forward(const autograd::Variable& x) override {
    const int64_t columns = static_cast<int64_t>(max_.size());
    const float* data = x.data().data();
    for (int64_t i = 0; i < x.numel(); ++i) max_[i % columns] = std::max(max_[i % columns], std::abs(data[i]));
    return x;
  }
  const std::vector<float>& max() const { return max_; }

 private:
  std::vector<float> max_;
};

// max |W_ij| over the rows of every Linear in `linears`, per input column j.
std::vector<float> weight_max(const std::vector<std::shared_ptr<layers::Linear>>& linears) {
  std::vector<float> out(static_cast<size_t>(linears.front()->in_features()), 0.0f);
  for (const auto& linear : linears) {
    const autograd::Tensor& w = linear->weight().data();
    for (int64_t i = 0; i < w.numel(); ++i) out[i % out.size()] = std::max(out[i % out.size()], std::abs(w.data()[i]));
  }
  return out;
}

// norm.weight /= s, W[:, j] *= s_j for every Linear reading the norm's output.
void fold(layers::RMSNorm& norm, const std::vector<std::shared_ptr<layers::Linear>>& linears, const std::vector<float>& s) {
  autograd::Variable gamma = norm.weight();
  float* g = gamma.mutable_data().data();
  for (size_t j = 0; j < s.size(); ++j) g[j] /= s[j];
  for (const auto& linear : linears) {
    autograd::Variable weight = linear->weight();
    autograd::Tensor& w = weight.mutable_data();
    for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] *= s[i % s.size()];
  }
}

double parse_alpha(const std::string& options) {
  double alpha = 0.5;
  parse_method_options(options, "ptq smoothquant", accepted_options("smoothquant") + " (alpha in [0, 1])",
                       [&](const std::string& key, const std::string& value) {
                         if (key != "alpha" || value.empty()) return false;
                         alpha = option_double(value);
                         return alpha >= 0 && alpha <= 1;
                       });
  return alpha;
}

}  // namespace

std::vector<float> smoothing_factors(const std::vector<float>& activation_max, const std::vector<float>& weight_max,
                                     double alpha) {
  if (activation_max.size() != weight_max.size())
    throw std::invalid_argument("smoothquant: " + std::to_string(activation_max.size()) + " activation maxima for " +
                                std::to_string(weight_max.size()) + " weight columns");
  std::vector<float> s(activation_max.size());
  for (size_t j = 0; j < s.size(); ++j) {
    const double a = std::max(activation_max[j], 1e-5f), w = std::max(weight_max[j], 1e-5f);
    s[j] = static_cast<float>(std::max(std::pow(a, alpha) / std::pow(w, 1.0 - alpha), 1e-5));
  }
  return s;
}

LlamaSmoothingStatistics collect_smoothing_statistics(layers::LlamaForCausalLM& model, const Calibration& calibration) {
  const FloatLinears float_model(model, FloatParts::kInputsAndWeights);
  std::vector<InputHook> hooks;
  std::vector<std::shared_ptr<ChannelMaxHook>> attention, mlp;
  for (int64_t i = 0; i < model.config().num_hidden_layers; ++i) {
    const auto layer = model.model()->layer(static_cast<size_t>(i));
    attention.push_back(std::make_shared<ChannelMaxHook>(model.config().hidden_size));
    mlp.push_back(std::make_shared<ChannelMaxHook>(model.config().hidden_size));
    hooks.emplace_back(layer->self_attn()->q_proj(), attention.back());
    hooks.emplace_back(layer->mlp()->gate_proj(), mlp.back());
  }
  run_with_input_hooks(hooks, calibration);
  LlamaSmoothingStatistics out;
  for (size_t i = 0; i < attention.size(); ++i) {
    out.attention_input.push_back(attention[i]->max());
    out.mlp_input.push_back(mlp[i]->max());
  }
  return out;
}

void smooth_llama(layers::LlamaForCausalLM& model, const LlamaSmoothingStatistics& statistics, double alpha) {
  autograd::NoGradGuard no_grad;
  for (int64_t i = 0; i < model.config().num_hidden_layers; ++i) {
    const auto layer = model.model()->layer(static_cast<size_t>(i));
    const auto& attn = layer->self_attn();
    const std::vector<std::shared_ptr<layers::Linear>> qkv = {attn->q_proj(), attn->k_proj(), attn->v_proj()};
    const std::vector<std::shared_ptr<layers::Linear>> gate_up = {layer->mlp()->gate_proj(), layer->mlp()->up_proj()};
    fold(*layer->input_layernorm(), qkv, smoothing_factors(statistics.attention_input.at(i), weight_max(qkv), alpha));
    fold(*layer->post_attention_layernorm(), gate_up, smoothing_factors(statistics.mlp_input.at(i), weight_max(gate_up), alpha));
  }
}

void quantize_smoothquant(layers::Module& model, const Calibration& calibration, const std::string& options) {
  const double alpha = parse_alpha(options);
  auto* llama = dynamic_cast<layers::LlamaForCausalLM*>(&model);
  if (llama == nullptr) throw std::invalid_argument("ptq smoothquant: needs a Llama (its norms take the smoothing factors)");
  smooth_llama(*llama, collect_smoothing_statistics(*llama, calibration), alpha);
  quantize_rtn(model, calibration, "");
}

}  // namespace qforge::ptq
