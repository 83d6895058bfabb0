// The GGUF architecture table (gguf_architecture.h; docs/gguf.md §13).
#include "exporters/gguf/gguf_architecture.h"

#include <array>
#include <stdexcept>

namespace qforge::exporters::gguf {
namespace {

// One line per architecture. Sources: llama.cpp src/llama-model.cpp (llama_model_rope_type: LLM_ARCH_LLAMA
// under "use what we call a normal RoPE", LLM_ARCH_QWEN2 under "the pairs of head values are offset by
// n_rot/2"), src/models/qwen2.cpp (create_tensor_qkv: attn_q/k/v.bias), convert_hf_to_gguf.py (LlamaModel
// permutes q/k, Qwen2Model does not), src/models/llama.cpp (create_tensor rope_freqs.weight, passed to
// ggml_rope_ext; qwen2.cpp loads none and passes no factors).
constexpr std::array<GgufArchitecture, 2> kArchitectures = {{
    {"llama", true, false, "LlamaForCausalLM", true},
    {"qwen2", false, true, "Qwen2ForCausalLM", false},
}};

}  // namespace

const GgufArchitecture* find_gguf_architecture(std::string_view name) {
  for (const GgufArchitecture& a : kArchitectures)
    if (name == a.name) return &a;
  return nullptr;
}

std::string gguf_architecture_names() {
  std::string out;
  for (const GgufArchitecture& a : kArchitectures) out += (out.empty() ? "" : ", ") + std::string(a.name);
  return out;
}

const GgufArchitecture& gguf_architecture_for(const layers::LlamaConfig& c) {
  const bool plain_but_biases = c.head_dim_override == 0 && !c.attention_bias && !c.mlp_bias && c.sliding_window == 0;
  if (!plain_but_biases)
    throw std::invalid_argument("gguf export: the model has o_proj or MLP biases, a head_dim override or a sliding window, "
                                "which none of the GGUF architectures qforge writes (" + gguf_architecture_names() + ") expresses");
  const GgufArchitecture& a = gguf_architecture_with_qkv_bias(c.qkv_bias);
  // Linear scaling is two keys every architecture reads (llama-model.cpp load_hparams); llama3 and
  // per-frequency factors need the tensor rope_freqs.weight (docs/gguf.md §15).
  const auto type = c.rope_scaling.type;
  const bool needs_freqs = type == layers::RopeScaling::Type::kLlama3 || type == layers::RopeScaling::Type::kFactors;
  if (needs_freqs && !a.rope_freqs)
    throw std::invalid_argument(std::string("gguf export: per-frequency rope scaling (llama3, or a GGUF's rope_freqs.weight) "
                                            "needs rope_freqs.weight, which llama.cpp's ") + a.name + " graph does not read");
  return a;
}

const GgufArchitecture& gguf_architecture_with_qkv_bias(bool qkv_bias) {
  for (const GgufArchitecture& a : kArchitectures)
    if (a.qkv_bias == qkv_bias) return a;
  throw std::logic_error("gguf architecture table: no row with qkv_bias " + std::to_string(qkv_bias));
}

}  // namespace qforge::exporters::gguf
