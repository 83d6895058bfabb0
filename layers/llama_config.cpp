#include "layers/llama_config.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace qforge::layers {

namespace {

void require_positive(int64_t value, const char* field) {
  if (value <= 0) {
    throw std::invalid_argument(std::string("LlamaConfig: ") + field + " must be positive, got " +
                                std::to_string(value));
  }
}

}  // namespace

void LlamaConfig::validate() const {
  require_positive(vocab_size, "vocab_size");
  require_positive(hidden_size, "hidden_size");
  require_positive(num_hidden_layers, "num_hidden_layers");
  require_positive(num_attention_heads, "num_attention_heads");
  require_positive(num_key_value_heads, "num_key_value_heads");
  require_positive(intermediate_size, "intermediate_size");
  require_positive(max_position_embeddings, "max_position_embeddings");
  if (head_dim_override < 0)
    throw std::invalid_argument("LlamaConfig: head_dim_override must be >= 0, got " + std::to_string(head_dim_override));
  if (head_dim_override == 0 && hidden_size % num_attention_heads != 0) {
    throw std::invalid_argument("LlamaConfig: hidden_size " + std::to_string(hidden_size) +
                                " is not a multiple of num_attention_heads " + std::to_string(num_attention_heads));
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    throw std::invalid_argument("LlamaConfig: num_attention_heads " + std::to_string(num_attention_heads) +
                                " is not a multiple of num_key_value_heads " + std::to_string(num_key_value_heads));
  }
  if (head_dim() % 2 != 0) {
    throw std::invalid_argument("LlamaConfig: head_dim " + std::to_string(head_dim()) + " must be even for rope");
  }
  if (!(rope_theta > 0.0f)) throw std::invalid_argument("LlamaConfig: rope_theta must be positive, got " + std::to_string(rope_theta));
  if (!(rms_norm_eps >= 0.0f)) throw std::invalid_argument("LlamaConfig: rms_norm_eps must be >= 0, got " + std::to_string(rms_norm_eps));
  if (sliding_window < 0) throw std::invalid_argument("LlamaConfig: sliding_window must be >= 0, got " + std::to_string(sliding_window));
  validate_rope_scaling();
}

void LlamaConfig::validate_rope_scaling() const {
  const RopeScaling& r = rope_scaling;
  if (r.type == RopeScaling::Type::kNone) return;
  if (r.type == RopeScaling::Type::kFactors) {
    // llama.cpp loads rope_freqs.weight as {n_rot/2} (src/models/llama.cpp) and divides theta by each value.
    if (static_cast<int64_t>(r.freq_factors.size()) != head_dim() / 2)
      throw std::invalid_argument("LlamaConfig: rope_scaling.freq_factors has " + std::to_string(r.freq_factors.size()) +
                                  " values, head_dim/2 is " + std::to_string(head_dim() / 2));
    for (size_t i = 0; i < r.freq_factors.size(); ++i)
      if (!std::isfinite(r.freq_factors[i]) || !(r.freq_factors[i] > 0.0f))
        throw std::invalid_argument("LlamaConfig: rope_scaling.freq_factors[" + std::to_string(i) + "] is " +
                                    std::to_string(r.freq_factors[i]) + ", not finite and > 0");
    return;
  }
  // transformers' _validate_linear_scaling_rope_parameters / _validate_llama3_parameters: factor >= 1.
  if (!(r.factor >= 1.0)) throw std::invalid_argument("LlamaConfig: rope_scaling.factor must be >= 1, got " + std::to_string(r.factor));
  if (r.type != RopeScaling::Type::kLlama3) return;
  if (!(r.high_freq_factor > r.low_freq_factor) || !(r.low_freq_factor > 0.0))
    throw std::invalid_argument("LlamaConfig: rope_scaling needs 0 < low_freq_factor < high_freq_factor, got " +
                                std::to_string(r.low_freq_factor) + " and " + std::to_string(r.high_freq_factor));
  if (r.original_max_position_embeddings <= 0)
    throw std::invalid_argument("LlamaConfig: rope_scaling.original_max_position_embeddings must be positive, got " +
                                std::to_string(r.original_max_position_embeddings));
}

bool LlamaConfig::is_plain_llama() const {
  return head_dim_override == 0 && !attention_bias && !qkv_bias && !mlp_bias &&
         rope_scaling.type == RopeScaling::Type::kNone && sliding_window == 0;
}

}  // namespace qforge::layers
