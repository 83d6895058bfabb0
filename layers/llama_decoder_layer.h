#pragma once
// One pre-norm transformer block of Llama, named as Hugging Face's LlamaDecoderLayer.
#include <cstdint>
#include <memory>
#include <string>

#include "layers/causal_self_attention.h"
#include "layers/llama_config.h"
#include "layers/rms_norm.h"
#include "layers/swiglu.h"

namespace qforge::layers {

/// h = x + self_attn(input_layernorm(x));  y = h + mlp(post_attention_layernorm(h)).
/// Children are registered in HF's order: "self_attn", "mlp", "input_layernorm",
/// "post_attention_layernorm".
class LlamaDecoderLayer : public UnaryModule {
 public:
  /// Builds the block for `config` (validated by the caller); sub-modules seeded from `seed`.
  /// `factory` builds the projections under `path` ("model.layers.3"; see layers/linear.h).
  LlamaDecoderLayer(const LlamaConfig& config, uint64_t seed, const LinearFactory& factory = {},
                    const std::string& path = "");
  /// x [b, t, hidden] -> [b, t, hidden].
  Variable forward(const Variable& x) override;
  /// Norm before attention.
  const std::shared_ptr<RMSNorm>& input_layernorm() const { return input_layernorm_; }
  /// The attention block.
  const std::shared_ptr<CausalSelfAttention>& self_attn() const { return self_attn_; }
  /// Norm before the feed-forward block.
  const std::shared_ptr<RMSNorm>& post_attention_layernorm() const { return post_attention_layernorm_; }
  /// The feed-forward block.
  const std::shared_ptr<SwiGLU>& mlp() const { return mlp_; }

 private:
  std::shared_ptr<RMSNorm> input_layernorm_;
  std::shared_ptr<CausalSelfAttention> self_attn_;
  std::shared_ptr<RMSNorm> post_attention_layernorm_;
  std::shared_ptr<SwiGLU> mlp_;
};

}  // namespace qforge::layers
