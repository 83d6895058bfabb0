#pragma once
// Hyper-parameters of a Llama model, with the field names of Hugging Face's LlamaConfig
// (transformers/models/llama/configuration_llama.py) so config.json values map one to one.
// Defaults are a small model that trains on a CPU, not Llama-2-7B.
#include <cstdint>

namespace qforge::layers {

/// Shape and numerics of LlamaModel / LlamaForCausalLM.
struct LlamaConfig {
  int64_t vocab_size = 32000;              ///< rows of embed_tokens (and of lm_head)
  int64_t hidden_size = 256;               ///< model width
  int64_t num_hidden_layers = 4;           ///< decoder layers
  int64_t num_attention_heads = 4;         ///< query heads; head_dim = hidden_size / heads
  int64_t num_key_value_heads = 4;         ///< key/value heads (GQA when fewer than query heads)
  int64_t intermediate_size = 688;         ///< SwiGLU inner width
  int64_t max_position_embeddings = 2048;  ///< longest context forward() accepts
  float rope_theta = 10000.0f;             ///< rotary base
  float rms_norm_eps = 1e-6f;              ///< epsilon of every RMSNorm
  bool tie_word_embeddings = false;        ///< lm_head shares embed_tokens.weight when true
  float initializer_range = 0.02f;         ///< std of the normal init of every Linear and Embedding weight (as HF)
  uint64_t seed = 0;                       ///< seed of all initialisers
  /// Activation checkpointing (Chen et al. 2016): in training mode with grad on, LlamaModel::forward
  /// keeps only each decoder layer's input and recomputes the layer in backward
  /// (autograd::checkpoint). Same values and gradients, less memory, about one more forward.
  bool gradient_checkpointing = false;

  /// Throws std::invalid_argument naming the first inconsistent field (non-positive sizes,
  /// hidden_size % heads, heads % kv_heads, odd head_dim).
  void validate() const;
  /// hidden_size / num_attention_heads.
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

}  // namespace qforge::layers
