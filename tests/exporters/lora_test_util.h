#pragma once
// Random LoRA tensors in qforge names for the adapter tests.
#include <string>
#include <vector>

#include "exporters/safetensors/safetensors.h"
#include "layers/llama_config.h"
#include "tests/support/tiny_llama.h"

namespace qforge::testing {

// lora_A [r, in] and lora_B [out, r] (B nonzero) for q/k/v/o and down_proj of every layer.
inline exporters::NamedTensors random_lora(const layers::LlamaConfig& c, int64_t r, uint64_t seed) {
  exporters::NamedTensors t;
  const int64_t hd = c.head_dim(), d = c.hidden_size;
  const std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> modules = {
      {"self_attn.q_proj", {d, c.num_attention_heads * hd}}, {"self_attn.k_proj", {d, c.num_key_value_heads * hd}},
      {"self_attn.v_proj", {d, c.num_key_value_heads * hd}}, {"self_attn.o_proj", {c.num_attention_heads * hd, d}},
      {"mlp.down_proj", {c.intermediate_size, d}}};
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    for (const auto& [module, in_out] : modules) {
      const std::string name = "model.layers." + std::to_string(layer) + "." + module;
      t.emplace(name + ".lora_A.weight", autograd::Tensor::randn(autograd::Shape{r, in_out.first}, seed++, 0.3f));
      t.emplace(name + ".lora_B.weight", autograd::Tensor::randn(autograd::Shape{in_out.second, r}, seed++, 0.3f));
    }
  }
  return t;
}

}  // namespace qforge::testing
