#include "layers/llama_config.h"

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
  if (hidden_size % num_attention_heads != 0) {
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
}

}  // namespace qforge::layers
