#include "layers/llama.h"

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
  const Tensor values = Tensor::randn(weight.shape(), seed, std);
  Variable target = weight;
  std::copy(values.data(), values.data() + values.numel(), target.mutable_data().data());
}

void init_linears(Module& module, float std, uint64_t seed) {
  uint64_t stream = 0;
  for (auto& [name, child] : module.named_modules()) {
    if (auto* linear = dynamic_cast<Linear*>(child.get())) init_normal(linear->weight(), std, derive_seed(seed, stream++));
  }
}

}  // namespace

LlamaModel::LlamaModel(const LlamaConfig& config) : config_(config) {
  config.validate();
  embed_tokens_ = register_module("embed_tokens", std::make_shared<Embedding>(config.vocab_size, config.hidden_size));
  init_normal(embed_tokens_->weight(), config.initializer_range, derive_seed(config.seed, kEmbedStream));
  layers_ = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const uint64_t layer_seed = derive_seed(config.seed, kFirstLayerStream + static_cast<uint64_t>(i));
    auto layer = std::make_shared<LlamaDecoderLayer>(config, layer_seed);
    init_linears(*layer, config.initializer_range, layer_seed);
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
  Variable h = embed_tokens_->forward(ids);
  for (size_t i = 0; i < layers_->size(); ++i) h = layer(i)->forward(h);
  return norm_->forward(h);
}

LlamaForCausalLM::LlamaForCausalLM(const LlamaConfig& config) {
  model_ = register_module("model", std::make_shared<LlamaModel>(config));
  if (!config.tie_word_embeddings) {
    lm_head_ = register_module("lm_head", std::make_shared<Linear>(config.hidden_size, config.vocab_size, false));
    init_normal(lm_head_->weight(), config.initializer_range, derive_seed(config.seed, kLmHeadStream));
  }
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
