#include "layers/llama_decoder_layer.h"

#include <utility>

#include "autograd/ops.h"
#include "layers/init.h"
#include "layers/rope_frequencies.h"

namespace qforge::layers {

LlamaDecoderLayer::LlamaDecoderLayer(const LlamaConfig& config, uint64_t seed, const LinearFactory& factory,
                                     const std::string& path) {
  // Registration order fixes the parameter order; it follows HF's __init__ (self_attn, mlp,
  // input_layernorm, post_attention_layernorm) so named_parameters() lists keys as
  // LlamaForCausalLM.named_parameters() does.
  AttentionOptions attention;
  attention.head_dim = config.head_dim_override;
  attention.qkv_bias = config.attention_bias || config.qkv_bias;
  attention.o_bias = config.attention_bias;
  if (config.rope_scaling.type != RopeScaling::Type::kNone) attention.rope_inv_freq = rope_inverse_frequencies(config);
  self_attn_ = register_module("self_attn", std::make_shared<CausalSelfAttention>(
                                                config.hidden_size, config.num_attention_heads,
                                                config.num_key_value_heads, config.rope_theta, derive_seed(seed, 0),
                                                factory, join_module_path(path, "self_attn"), std::move(attention)));
  mlp_ = register_module("mlp", std::make_shared<SwiGLU>(config.hidden_size, config.intermediate_size,
                                                         derive_seed(seed, 1), factory, join_module_path(path, "mlp"),
                                                         config.mlp_bias));
  input_layernorm_ = register_module("input_layernorm", std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps));
  post_attention_layernorm_ =
      register_module("post_attention_layernorm", std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps));
}

Variable LlamaDecoderLayer::forward(const Variable& x) {
  const Variable h = autograd::add(x, self_attn_->forward(input_layernorm_->forward(x)));
  return autograd::add(h, mlp_->forward(post_attention_layernorm_->forward(h)));
}

}  // namespace qforge::layers
