#pragma once
// Hyper-parameters of a Llama model, with the field names of Hugging Face's LlamaConfig
// (transformers/models/llama/configuration_llama.py) so config.json values map one to one.
// Defaults are a small model that trains on a CPU, not Llama-2-7B.
#include <cstdint>
#include <vector>

namespace qforge::layers {

/// HF's rope_scaling (transformers/modeling_rope_utils.py, ROPE_INIT_FUNCTIONS): how the rotary
/// frequencies theta^(-2i/head_dim) are rescaled. kLinear divides every frequency by `factor`
/// (positions / factor, _compute_linear_scaling_rope_parameters); kLlama3 keeps high frequencies,
/// divides low ones by `factor` and blends in between (_compute_llama3_parameters). kFactors divides
/// frequency i by freq_factors[i]: llama.cpp's form, the tensor rope_freqs.weight of a GGUF file
/// (ggml's rope computes theta_i / freq_factors[i]; docs/gguf.md §15). It has no HF rope_scaling.
struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3, kFactors };
  Type type = Type::kNone;
  double factor = 1.0;                              ///< kLinear, kLlama3
  double low_freq_factor = 1.0;                     ///< kLlama3
  double high_freq_factor = 4.0;                    ///< kLlama3
  int64_t original_max_position_embeddings = 8192;  ///< kLlama3
  std::vector<float> freq_factors;                  ///< kFactors: head_dim/2 divisors, each finite and > 0
};

/// Shape and numerics of LlamaModel / LlamaForCausalLM.
struct LlamaConfig {
  int64_t vocab_size = 32000;              ///< rows of embed_tokens (and of lm_head)
  int64_t hidden_size = 256;               ///< model width
  int64_t num_hidden_layers = 4;           ///< decoder layers
  int64_t num_attention_heads = 4;         ///< query heads; head_dim = hidden_size / heads unless head_dim_override
  int64_t num_key_value_heads = 4;         ///< key/value heads (GQA when fewer than query heads)
  int64_t intermediate_size = 688;         ///< SwiGLU inner width
  int64_t max_position_embeddings = 2048;  ///< longest context forward() accepts
  float rope_theta = 10000.0f;             ///< rotary base
  float rms_norm_eps = 1e-6f;              ///< epsilon of every RMSNorm
  bool tie_word_embeddings = false;        ///< lm_head shares embed_tokens.weight when true
  /// HF's head_dim when set explicitly (> 0): q_proj is then [heads*head_dim, hidden] and o_proj
  /// [hidden, heads*head_dim], hidden_size need not be heads*head_dim. 0: hidden_size / heads.
  int64_t head_dim_override = 0;
  bool attention_bias = false;             ///< biases on q, k, v and o_proj (HF LlamaConfig.attention_bias)
  bool qkv_bias = false;                   ///< biases on q, k and v_proj only (Qwen2Attention)
  bool mlp_bias = false;                   ///< biases on gate, up and down_proj (HF LlamaConfig.mlp_bias)
  RopeScaling rope_scaling;                ///< rescaled rotary frequencies (HF rope_scaling)
  /// Mistral/Qwen2 sliding-window attention span, 0 for none. Only full attention is implemented, so
  /// forward() refuses contexts longer than the window (where the two agree).
  int64_t sliding_window = 0;
  float initializer_range = 0.02f;         ///< std of the normal init of every Linear and Embedding weight (as HF)
  uint64_t seed = 0;                       ///< seed of all initialisers
  /// Activation checkpointing (Chen et al. 2016): in training mode with grad on, LlamaModel::forward
  /// keeps only each decoder layer's input and recomputes the layer in backward
  /// (autograd::checkpoint). Same values and gradients, less memory, about one more forward.
  bool gradient_checkpointing = false;

  /// Throws std::invalid_argument naming the first inconsistent field (non-positive sizes,
  /// hidden_size % heads without head_dim_override, heads % kv_heads, odd head_dim, rope_scaling).
  void validate() const;
  /// head_dim_override when set, else hidden_size / num_attention_heads.
  int64_t head_dim() const { return head_dim_override > 0 ? head_dim_override : hidden_size / num_attention_heads; }
  /// True when hidden_size, heads and head_dim are related as in the original Llama (no biases, no
  /// head_dim override, no rope_scaling, no sliding window): what the GGUF exporter writes.
  bool is_plain_llama() const;

 private:
  void validate_rope_scaling() const;
};

}  // namespace qforge::layers
