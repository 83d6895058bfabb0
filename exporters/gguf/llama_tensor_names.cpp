#include "exporters/gguf/llama_tensor_names.h"

#include <algorithm>
#include <array>
#include <regex>
#include <stdexcept>
#include <utility>

namespace qforge::exporters::gguf {
namespace {

// Per-layer parts: HF suffix after "model.layers.N." <-> GGUF suffix after "blk.N.". The q/k/v biases are
// Qwen2's (llama.cpp src/models/qwen2.cpp, create_tensor_qkv; docs/gguf.md §13).
constexpr std::array<std::pair<const char*, const char*>, 12> kLayerParts = {{
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
}};

constexpr std::array<std::pair<const char*, const char*>, 3> kGlobal = {{
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
}};

std::optional<std::string> translate(const std::string& name, bool to_gguf) {
  for (const auto& [hf, gg] : kGlobal) {
    if (name == (to_gguf ? hf : gg)) return std::string(to_gguf ? gg : hf);
  }
  static const std::regex hf_layer(R"(model\.layers\.(\d+)\.(.+))");
  static const std::regex gguf_layer(R"(blk\.(\d+)\.(.+))");
  std::smatch match;
  if (!std::regex_match(name, match, to_gguf ? hf_layer : gguf_layer)) return std::nullopt;
  for (const auto& [hf, gg] : kLayerParts) {
    if (match[2] == (to_gguf ? hf : gg)) {
      return (to_gguf ? "blk." : "model.layers.") + match[1].str() + "." + (to_gguf ? gg : hf);
    }
  }
  return std::nullopt;
}

int64_t head_dim_of(int64_t rows, int64_t heads, const char* op) {
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(rows) + " rows are not " +
                                std::to_string(heads) + " heads of an even head dimension");
  }
  return rows / heads;
}

constexpr std::array<const char*, 3> kQkvParts = {"attn_q.", "attn_k.", "attn_v."};

}  // namespace

std::optional<std::string> gguf_tensor_name(const std::string& hf_name) { return translate(hf_name, true); }
std::optional<std::string> hf_tensor_name(const std::string& gguf_name) { return translate(gguf_name, false); }

std::optional<std::array<std::string, 3>> fused_qkv_hf_names(const std::string& gguf_name) {
  static const std::regex fused(R"(blk\.(\d+)\.attn_qkv\.(weight|bias))");
  std::smatch match;
  if (!std::regex_match(gguf_name, match, fused)) return std::nullopt;
  std::array<std::string, 3> out;
  for (size_t i = 0; i < kQkvParts.size(); ++i)
    out[i] = *hf_tensor_name("blk." + match[1].str() + "." + kQkvParts[i] + match[2].str());
  return out;
}

std::optional<FusedQkvPart> fused_qkv_part(const std::string& hf_name) {
  const std::optional<std::string> separate = gguf_tensor_name(hf_name);
  if (!separate) return std::nullopt;
  for (size_t i = 0; i < kQkvParts.size(); ++i) {
    const size_t at = separate->find(std::string(".") + kQkvParts[i]);
    if (at != std::string::npos)
      return FusedQkvPart{separate->substr(0, at) + ".attn_qkv." + separate->substr(at + 1 + std::string(kQkvParts[i]).size()),
                          static_cast<int>(i)};
  }
  return std::nullopt;
}

void permute_rope_rows(const float* in, float* out, int64_t rows, int64_t cols, int64_t heads) {
  const int64_t head_dim = head_dim_of(rows, heads, "permute_rope_rows"), half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const float* src = in + (h * head_dim + j * half + i) * cols;
        std::copy(src, src + cols, out + (h * head_dim + 2 * i + j) * cols);
      }
    }
  }
}

void unpermute_rope_rows(const float* in, float* out, int64_t rows, int64_t cols, int64_t heads) {
  const int64_t head_dim = head_dim_of(rows, heads, "unpermute_rope_rows"), half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const float* src = in + (h * head_dim + 2 * i + j) * cols;
        std::copy(src, src + cols, out + (h * head_dim + j * half + i) * cols);
      }
    }
  }
}

}  // namespace qforge::exporters::gguf
