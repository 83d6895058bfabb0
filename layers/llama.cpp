#include "layers/llama.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

namespace {

// Seed streams of the config seed: one per top-level weight group, so adding lm_head does not
// change the body's weights (LlamaModel and LlamaForCausalLM share them for equal configs).
constexpr uint64_t kEmbedStream = 0, kLmHeadStream = 1, kFirstLayerStream = 16;

// HF LlamaPreTrainedModel._init_weights: every Linear/Embedding weight ~ N(0, initializer_range).
void init_normal(const Variable& weight, float std, uint64_t seed) {
  if (init_skipped()) return;  // a loader writes every weight (layers/init.h SkipInit)
  const Tensor values = Tensor::randn(weight.shape(), seed, std);
  Variable target = weight;
  std::copy(values.data(), values.data() + values.numel(), target.mutable_data().data());
}

// The projections of one decoder layer in registration order; projection k draws from stream k.
constexpr const char* kLayerProjections[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                             "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                             "mlp.down_proj"};

// HF's normal init of the dense projections; a packed projection (from a LinearFactory) keeps its
// values but still uses up its stream, so the others get the default model's weights.
void init_linears(const LlamaDecoderLayer& layer, float std, uint64_t seed) {
  const std::shared_ptr<Linear> projections[] = {layer.self_attn()->q_proj(), layer.self_attn()->k_proj(),
                                                 layer.self_attn()->v_proj(), layer.self_attn()->o_proj(),
                                                 layer.mlp()->gate_proj(),    layer.mlp()->up_proj(),
                                                 layer.mlp()->down_proj()};
  uint64_t stream = 0;
  for (const auto& linear : projections) {
    if (!linear->is_packed()) init_normal(linear->weight(), std, derive_seed(seed, stream));
    // HF's _init_weights zeroes every Linear bias (attention_bias, mlp_bias, Qwen2's q/k/v).
    if (linear->bias().defined()) {
      Variable bias = linear->bias();
      std::fill_n(bias.mutable_data().data(), bias.numel(), 0.0f);
    }
    ++stream;
  }
}

uint64_t layer_seed(const LlamaConfig& config, int64_t i) {
  return derive_seed(config.seed, kFirstLayerStream + static_cast<uint64_t>(i));
}

}  // namespace

LlamaModel::LlamaModel(const LlamaConfig& config, const LinearFactory& factory, const std::string& path)
    : config_(config) {
  config.validate();
  embed_tokens_ = register_module("embed_tokens", std::make_shared<Embedding>(config.vocab_size, config.hidden_size));
  init_normal(embed_tokens_->weight(), config.initializer_range, derive_seed(config.seed, kEmbedStream));
  layers_ = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const uint64_t seed = layer_seed(config, i);
    auto layer = std::make_shared<LlamaDecoderLayer>(config, seed, factory,
                                                     join_module_path(path, "layers." + std::to_string(i)));
    init_linears(*layer, config.initializer_range, seed);
    layers_->push_back(layer);
  }
  norm_ = register_module("norm", std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps));
}

Variable LlamaModel::forward(const IndexTensor& ids) {
  if (ids.shape().ndim() != 2) {
    throw std::invalid_argument("LlamaModel: ids must be [batch, seq], got " + ids.shape().to_string());
  }
  if (ids.shape()[1] > config_.max_position_embeddings) {
    throw std::invalid_argument("LlamaModel: context length " + std::to_string(ids.shape()[1]) +
                                " exceeds max_position_embeddings " +
                                std::to_string(config_.max_position_embeddings));
  }
  // Within the window, sliding-window attention (Mistral, Qwen2) is full causal attention.
  if (config_.sliding_window > 0 && ids.shape()[1] > config_.sliding_window) {
    throw std::invalid_argument("LlamaModel: context length " + std::to_string(ids.shape()[1]) +
                                " exceeds sliding_window " + std::to_string(config_.sliding_window) +
                                " (sliding-window attention is not implemented; shorter contexts are exact)");
  }
  Variable h = embed_tokens_->forward(ids);
  const bool checkpointing = config_.gradient_checkpointing && is_training() && autograd::grad_mode_enabled();
  for (size_t i = 0; i < layers_->size(); ++i) {
    if (checkpointing) {
      const std::shared_ptr<LlamaDecoderLayer> block = layer(i);
      h = autograd::checkpoint([block](const Variable& x) { return block->forward(x); }, h);
    } else {
      h = layer(i)->forward(h);
    }
  }
  return norm_->forward(h);
}

LlamaForCausalLM::LlamaForCausalLM(const LlamaConfig& config, const LinearFactory& factory) {
  model_ = register_module("model", std::make_shared<LlamaModel>(config, factory, "model"));
  if (!config.tie_word_embeddings) {
    lm_head_ = register_module("lm_head", make_linear(factory, "lm_head", config.hidden_size, config.vocab_size, 0));
    if (!lm_head_->is_packed()) {
      init_normal(lm_head_->weight(), config.initializer_range, derive_seed(config.seed, kLmHeadStream));
    }
  }
}

Tensor llama_initial_linear_weight(const LlamaConfig& config, const std::string& path, int64_t in, int64_t out) {
  if (path == "lm_head") return Tensor::randn(Shape{out, in}, derive_seed(config.seed, kLmHeadStream), config.initializer_range);
  const std::string prefix = "model.layers.";
  if (path.rfind(prefix, 0) == 0) {
    const size_t dot = path.find('.', prefix.size());
    const std::string index = path.substr(prefix.size(), dot == std::string::npos ? 0 : dot - prefix.size());
    const std::string rest = dot == std::string::npos ? "" : path.substr(dot + 1);
    if (!index.empty() && index.find_first_not_of("0123456789") == std::string::npos) {
      const int64_t i = std::stoll(index);
      for (uint64_t stream = 0; stream < std::size(kLayerProjections); ++stream) {
        if (rest == kLayerProjections[stream] && i < config.num_hidden_layers) {
          return Tensor::randn(Shape{out, in}, derive_seed(layer_seed(config, i), stream), config.initializer_range);
        }
      }
    }
  }
  throw std::invalid_argument("llama_initial_linear_weight: '" + path + "' is not a projection of this Llama (" +
                              std::to_string(config.num_hidden_layers) + " layers)");
}

const Variable& LlamaForCausalLM::output_weight() const {
  return lm_head_ ? lm_head_->weight() : model_->embed_tokens()->weight();
}

Variable LlamaForCausalLM::forward(const IndexTensor& ids) {
  Variable hidden = model_->forward(ids);
  // Through the layers' quantizers, so a quantized (possibly tied) output projection is what trains.
  if (lm_head_) return lm_head_->forward(hidden);
  return autograd::matmul(hidden, model_->embed_tokens()->effective_weight(), false, true);
}

}  // namespace qforge::layers
