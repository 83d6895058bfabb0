#include "layers/llama_decoder_layer.h"

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

LlamaDecoderLayer::LlamaDecoderLayer(const LlamaConfig& config, uint64_t seed, const LinearFactory& factory,
                                     const std::string& path) {
  // Registration order fixes the parameter order; it follows HF's __init__ (self_attn, mlp,
  // input_layernorm, post_attention_layernorm) so named_parameters() lists keys as
  // LlamaForCausalLM.named_parameters() does.
  self_attn_ = register_module("self_attn", std::make_shared<CausalSelfAttention>(
                                                config.hidden_size, config.num_attention_heads,
                                                config.num_key_value_heads, config.rope_theta, derive_seed(seed, 0),
                                                factory, join_module_path(path, "self_attn")));
  mlp_ = register_module("mlp", std::make_shared<SwiGLU>(config.hidden_size, config.intermediate_size,
                                                         derive_seed(seed, 1), factory, join_module_path(path, "mlp")));
  input_layernorm_ = register_module("input_layernorm", std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps));
  post_attention_layernorm_ =
      register_module("post_attention_layernorm", std::make_shared<RMSNorm>(config.hidden_size, config.rms_norm_eps));
}

Variable LlamaDecoderLayer::forward(const Variable& x) {
  const Variable h = autograd::add(x, self_attn_->forward(input_layernorm_->forward(x)));
  return autograd::add(h, mlp_->forward(post_attention_layernorm_->forward(h)));
}

}  // namespace qforge::layers
