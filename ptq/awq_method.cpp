#include "ptq/awq_method.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "autograd/variable.h"
#include "layers/llama.h"
#include "ptq/awq.h"
#include "ptq/input_hooks.h"
#include "ptq/method.h"
#include "ptq/method_options.h"
#include "ptq/rtn.h"

namespace qforge::ptq {
namespace {

using autograd::Tensor;
using autograd::Variable;
using LinearPtr = std::shared_ptr<layers::Linear>;
using Batches = std::vector<Tensor>;

constexpr int64_t kClipTokens = 512;  // llm-awq auto_clip n_sample_token

// Identity on the forward pass; keeps a copy of every input.
class InputRecorder : public layers::UnaryModule {
 public:
  Variable forward(const Variable& x) override {
    inputs.push_back(x.data().clone());
    return x;
  }
  Batches inputs;
};

struct LayerInputs {
  Batches attention, o, mlp, down;  // the inputs of q (= k, v), o, gate (= up) and down
};

std::vector<LayerInputs> record_inputs(layers::LlamaForCausalLM& model, const Calibration& calibration) {
  std::vector<std::shared_ptr<InputRecorder>> recorders;
  std::vector<InputHook> hooks;
  for (int64_t i = 0; i < model.config().num_hidden_layers; ++i) {
    const auto layer = model.model()->layer(static_cast<size_t>(i));
    for (const LinearPtr& linear : {layer->self_attn()->q_proj(), layer->self_attn()->o_proj(), layer->mlp()->gate_proj(),
                                    layer->mlp()->down_proj()}) {
      recorders.push_back(std::make_shared<InputRecorder>());
      hooks.emplace_back(linear, recorders.back());
    }
  }
  run_with_input_hooks(hooks, calibration);
  std::vector<LayerInputs> out;
  for (size_t k = 0; k < recorders.size(); k += 4)
    out.push_back({recorders[k]->inputs, recorders[k + 1]->inputs, recorders[k + 2]->inputs, recorders[k + 3]->inputs});
  return out;
}

// Every row of every batch, or at most `limit` rows evenly spread over them, as [n, cols].
std::vector<float> rows_of(const Batches& batches, int64_t limit = 0) {
  std::vector<float> all;
  for (const Tensor& t : batches) all.insert(all.end(), t.data(), t.data() + t.numel());
  const int64_t cols = batches.front().dim(-1), rows = static_cast<int64_t>(all.size()) / cols;
  if (limit <= 0 || rows <= limit) return all;
  std::vector<float> sample;
  for (int64_t k = 0; k < limit; ++k) {
    const float* row = all.data() + (k * rows / limit) * cols;
    sample.insert(sample.end(), row, row + cols);
  }
  return sample;
}

void set_weight(layers::Linear& linear, const std::vector<float>& values) {
  Variable w = linear.weight();
  std::copy(values.begin(), values.end(), w.mutable_data().data());
}

// The scales of one group: `expand` maps a scale vector in the search space (the channel means'
// space) to the linears' input columns; the loss is the squared error of `block` on every batch with
// each linear's weight replaced by Q(W diag(s)) diag(s)^-1.
std::vector<float> search_group(const std::vector<LinearPtr>& linears, const Batches& inputs,
                                const std::function<Tensor(const Tensor&)>& block, const IntGrid& grid,
                                const std::vector<float>& channel_mean,
                                const std::function<std::vector<float>(const std::vector<float>&)>& expand) {
  std::vector<std::vector<float>> originals;
  for (const LinearPtr& l : linears) originals.push_back(l->weight().data().to_vector());
  Batches reference;
  for (const Tensor& x : inputs) reference.push_back(block(x));
  const auto loss = [&](const std::vector<float>& s) {
    const std::vector<float> columns = expand(s);
    for (size_t k = 0; k < linears.size(); ++k)
      set_weight(*linears[k], scaled_fake_quantize(originals[k], linears[k]->out_features(), linears[k]->in_features(), columns, grid));
    double total = 0;
    for (size_t b = 0; b < inputs.size(); ++b) {
      const Tensor y = block(inputs[b]);
      for (int64_t i = 0; i < y.numel(); ++i) total += (y.data()[i] - reference[b].data()[i]) * static_cast<double>(y.data()[i] - reference[b].data()[i]);
    }
    return total;
  };
  std::vector<float> best = expand(search_scales(channel_mean, loss).scales);
  for (size_t k = 0; k < linears.size(); ++k) set_weight(*linears[k], originals[k]);
  return best;
}

void scale_columns(layers::Linear& linear, const std::vector<float>& s) {
  Variable w = linear.weight();
  float* data = w.mutable_data().data();
  for (int64_t i = 0; i < w.numel(); ++i) data[i] *= s[i % s.size()];
}

void divide_rows(layers::Linear& linear, const std::vector<float>& s) {
  Variable w = linear.weight();
  float* data = w.mutable_data().data();
  const int64_t cols = linear.in_features();
  for (int64_t i = 0; i < w.numel(); ++i) data[i] /= s[i / cols];
  if (linear.bias().defined()) {
    Variable b = linear.bias();
    for (int64_t r = 0; r < b.numel(); ++r) b.mutable_data().data()[r] /= s[r];
  }
}

void divide_norm(layers::RMSNorm& norm, const std::vector<float>& s) {
  Variable g = norm.weight();
  for (int64_t j = 0; j < g.numel(); ++j) g.mutable_data().data()[j] /= s[j];
}

void divide_inputs(Batches& batches, const std::vector<float>& s) {
  for (Tensor& t : batches)
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] /= s[i % s.size()];
}

void clip(layers::Linear& linear, const Batches& inputs, const IntGrid& grid) {
  std::vector<float> w = linear.weight().data().to_vector();
  const int64_t rows = linear.out_features(), cols = linear.in_features();
  apply_clip(w, rows, cols, search_clip(w, rows, cols, rows_of(inputs, kClipTokens), grid), grid);
  set_weight(linear, w);
}

std::vector<float> identity_expand(const std::vector<float>& s) { return s; }

IntGrid grid_of(const layers::Linear& linear, const std::string& name) {
  auto quantizer = std::dynamic_pointer_cast<fakequant::Quantizer>(linear.weight_quantizer());
  if (!quantizer) throw std::invalid_argument("ptq awq: " + name + " has no weight quantizer (AWQ scales every projection)");
  return int_grid_of(*quantizer, name, "awq");
}

struct Grids {
  IntGrid qkv, o, gate_up, down;
};

// One decoder layer: the four scale groups (all searched on the unscaled weights, then folded), then
// the clip search.
void awq_layer(layers::LlamaDecoderLayer& layer, LayerInputs& x, const layers::LlamaConfig& config, const Grids& grids,
               bool clip_weights) {
  const auto& attn = layer.self_attn();
  const auto& mlp = layer.mlp();
  const std::vector<LinearPtr> qkv = {attn->q_proj(), attn->k_proj(), attn->v_proj()};
  const std::vector<LinearPtr> gate_up = {mlp->gate_proj(), mlp->up_proj()};
  const auto run = [](layers::UnaryModule& m) { return [&m](const Tensor& t) { return m.forward(Variable(t)).data(); }; };
  const std::vector<float> s_qkv = search_group(qkv, x.attention, run(*attn), grids.qkv, mean_abs(rows_of(x.attention), config.hidden_size), identity_expand);
  // v -> o: o's input channel (head h, dim d) is v's output channel (kv head h / n_rep, dim d).
  const int64_t head_dim = config.head_dim(), heads = config.num_attention_heads, n_rep = heads / config.num_key_value_heads;
  const std::vector<float> o_mean = mean_abs(rows_of(x.o), heads * head_dim);
  std::vector<float> v_mean(static_cast<size_t>(config.num_key_value_heads * head_dim), 0.0f);
  for (int64_t c = 0; c < heads * head_dim; ++c) v_mean[(c / head_dim / n_rep) * head_dim + c % head_dim] += o_mean[c] / static_cast<float>(n_rep);
  const auto expand_v = [&](const std::vector<float>& s) {
    std::vector<float> out(static_cast<size_t>(heads * head_dim));
    for (int64_t c = 0; c < heads * head_dim; ++c) out[c] = s[(c / head_dim / n_rep) * head_dim + c % head_dim];
    return out;
  };
  const std::vector<float> s_o = search_group({attn->o_proj()}, x.o, run(*attn->o_proj()), grids.o, v_mean, expand_v);
  const std::vector<float> s_gate_up = search_group(gate_up, x.mlp, run(*mlp), grids.gate_up, mean_abs(rows_of(x.mlp), config.hidden_size), identity_expand);
  const std::vector<float> s_down = search_group({mlp->down_proj()}, x.down, run(*mlp->down_proj()), grids.down,
                                                 mean_abs(rows_of(x.down), config.intermediate_size), identity_expand);
  divide_norm(*layer.input_layernorm(), s_qkv);
  for (const LinearPtr& l : qkv) scale_columns(*l, s_qkv);
  std::vector<float> s_v(v_mean.size());
  for (int64_t c = 0; c < heads * head_dim; ++c) s_v[(c / head_dim / n_rep) * head_dim + c % head_dim] = s_o[c];
  divide_rows(*attn->v_proj(), s_v);
  scale_columns(*attn->o_proj(), s_o);
  divide_norm(*layer.post_attention_layernorm(), s_gate_up);
  for (const LinearPtr& l : gate_up) scale_columns(*l, s_gate_up);
  divide_rows(*mlp->up_proj(), s_down);
  scale_columns(*mlp->down_proj(), s_down);
  if (!clip_weights) return;
  divide_inputs(x.attention, s_qkv), divide_inputs(x.o, s_o), divide_inputs(x.mlp, s_gate_up), divide_inputs(x.down, s_down);
  clip(*attn->v_proj(), x.attention, grids.qkv);
  clip(*attn->o_proj(), x.o, grids.o);
  for (const LinearPtr& l : gate_up) clip(*l, x.mlp, grids.gate_up);
  clip(*mlp->down_proj(), x.down, grids.down);
}

}  // namespace

void apply_awq(layers::LlamaForCausalLM& model, const Calibration& calibration, bool clip_weights) {
  const layers::LlamaConfig& config = model.config();
  std::vector<Grids> grids;
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const auto layer = model.model()->layer(static_cast<size_t>(i));
    const auto& attn = layer->self_attn();
    const auto& mlp = layer->mlp();
    const std::string p = "model.layers." + std::to_string(i) + ".";
    grid_of(*attn->k_proj(), p + "self_attn.k_proj"), grid_of(*attn->v_proj(), p + "self_attn.v_proj");
    grid_of(*mlp->up_proj(), p + "mlp.up_proj");  // refused here, before any change, when not a grid
    grids.push_back({grid_of(*attn->q_proj(), p + "self_attn.q_proj"), grid_of(*attn->o_proj(), p + "self_attn.o_proj"),
                     grid_of(*mlp->gate_proj(), p + "mlp.gate_proj"), grid_of(*mlp->down_proj(), p + "mlp.down_proj")});
  }
  const FloatLinears float_model(model, FloatParts::kInputsAndWeights);
  std::vector<LayerInputs> inputs = record_inputs(model, calibration);
  autograd::NoGradGuard no_grad;
  for (int64_t i = 0; i < config.num_hidden_layers; ++i)
    awq_layer(*model.model()->layer(static_cast<size_t>(i)), inputs[static_cast<size_t>(i)], config,
              grids[static_cast<size_t>(i)], clip_weights);
}

void quantize_awq(layers::Module& model, const Calibration& calibration, const std::string& options) {
  bool clip = true;
  parse_method_options(options, "ptq awq", accepted_options("awq"), [&](const std::string& key, const std::string& value) {
    if (key != "no_clip" || !value.empty()) return false;
    clip = false;
    return true;
  });
  auto* llama = dynamic_cast<layers::LlamaForCausalLM*>(&model);
  if (llama == nullptr) throw std::invalid_argument("ptq awq: needs a Llama (its norms and projections take the scales)");
  apply_awq(*llama, calibration, clip);
  quantize_rtn(model, calibration, "");
}

}  // namespace qforge::ptq
