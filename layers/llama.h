#pragma once
// Llama decoder-only language model (Touvron et al. 2023), with the module tree and parameter
// names of Hugging Face's LlamaModel / LlamaForCausalLM, so state dicts map key for key:
//   model.embed_tokens.weight, model.layers.{i}.self_attn.{q,k,v,o}_proj.weight,
//   model.layers.{i}.mlp.{gate,up,down}_proj.weight, model.layers.{i}.input_layernorm.weight,
//   model.layers.{i}.post_attention_layernorm.weight, model.norm.weight, lm_head.weight.
#include <memory>
#include <string>

#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/llama_config.h"
#include "layers/llama_decoder_layer.h"
#include "layers/rms_norm.h"

namespace qforge::layers {

/// Embedding, decoder layers and the final norm; children "embed_tokens", "layers", "norm".
/// Weights start as HF's _init_weights: N(0, initializer_range) for every embedding and linear
/// weight, ones for the norms.
class LlamaModel : public Module {
 public:
  /// Validates `config` (std::invalid_argument naming the bad field) and builds the model. With
  /// `factory`, every projection is factory(path + ".layers.<i>.self_attn.q_proj", in, out, seed)
  /// (see layers/linear.h), built layer by layer; a returned dense Linear is then initialised as
  /// the default one (HF's normal init), a packed one is kept as it is.
  explicit LlamaModel(const LlamaConfig& config, const LinearFactory& factory = {}, const std::string& path = "model");
  /// ids [b, t] -> final hidden states [b, t, hidden]. Throws std::invalid_argument when ids is
  /// not 2-D or t > max_position_embeddings (naming both numbers). With
  /// config.gradient_checkpointing, in training mode with grad on, each decoder layer runs under
  /// autograd::checkpoint.
  Variable forward(const IndexTensor& ids);
  /// The configuration the model was built with.
  const LlamaConfig& config() const { return config_; }
  /// The token embedding.
  const std::shared_ptr<Embedding>& embed_tokens() const { return embed_tokens_; }
  /// The i-th decoder layer.
  std::shared_ptr<LlamaDecoderLayer> layer(size_t i) const { return layers_->at<LlamaDecoderLayer>(i); }
  /// The final RMSNorm.
  const std::shared_ptr<RMSNorm>& norm() const { return norm_; }

 private:
  LlamaConfig config_;
  std::shared_ptr<Embedding> embed_tokens_;
  std::shared_ptr<ModuleList> layers_;
  std::shared_ptr<RMSNorm> norm_;
};

/// LlamaModel plus the output projection; children "model" and, unless tie_word_embeddings,
/// "lm_head" (no bias). When tied there is no lm_head parameter and the logits use
/// model.embed_tokens.weight, as HF's tie_weights().
class LlamaForCausalLM : public Module {
 public:
  /// Validates `config` and builds the model. `factory` (layers/linear.h) builds every projection
  /// by its HF path, "model.layers.<i>.mlp.down_proj" ... and "lm_head", as LlamaModel does.
  explicit LlamaForCausalLM(const LlamaConfig& config, const LinearFactory& factory = {});
  /// ids [b, t] -> logits [b, t, vocab_size] (same errors as LlamaModel::forward).
  Variable forward(const IndexTensor& ids);
  /// Same as forward(ids).
  Variable operator()(const IndexTensor& ids) { return forward(ids); }
  /// The configuration the model was built with.
  const LlamaConfig& config() const { return model_->config(); }
  /// The transformer body.
  const std::shared_ptr<LlamaModel>& model() const { return model_; }
  /// The output projection; null when the embeddings are tied.
  const std::shared_ptr<Linear>& lm_head() const { return lm_head_; }
  /// The matrix [vocab, hidden] that maps hidden states to logits (lm_head or embed_tokens weight);
  /// undefined when lm_head is packed.
  const Variable& output_weight() const;

 private:
  std::shared_ptr<LlamaModel> model_;
  std::shared_ptr<Linear> lm_head_;
};

/// The weight [out, in] the default model gives the projection at HF path `path`
/// ("model.layers.<i>.{self_attn.{q,k,v,o},mlp.{gate,up,down}}_proj" or "lm_head"): HF's
/// N(0, initializer_range) from the seed streams LlamaModel uses. A LinearFactory that packs can
/// build from it a packed model whose dequantized weights are the default model's, one projection
/// at a time. Throws std::invalid_argument for any other path.
Tensor llama_initial_linear_weight(const LlamaConfig& config, const std::string& path, int64_t in, int64_t out);

}  // namespace qforge::layers
