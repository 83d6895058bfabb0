#pragma once
// Hugging Face LlamaForCausalLM parameter names <-> llama.cpp GGUF tensor names
// (docs/gguf.md §3), and the Q/K row permutation between HF's half-split rotary pairs and
// llama.cpp's adjacent pairs (§5; convert_hf_to_gguf.py's permute).
#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace qforge::exporters::gguf {

// llama.cpp's per-frequency rope divisors (llama-arch.cpp LLM_TENSOR_ROPE_FREQS, "rope_freqs"): F32, ne
// [head_dim/2]; not a model parameter but RopeScaling::kFactors, so it has no HF name (docs/gguf.md §15).
inline constexpr const char* kRopeFreqsTensor = "rope_freqs.weight";

// "model.layers.3.mlp.down_proj.weight" -> "blk.3.ffn_down.weight"; nullopt for names that have no
// GGUF counterpart (e.g. quantizer state "...weight_quantizer.scale").
std::optional<std::string> gguf_tensor_name(const std::string& hf_name);
// The inverse; nullopt for unknown names.
std::optional<std::string> hf_tensor_name(const std::string& gguf_name);

// llama.cpp's fused projection "blk.N.attn_qkv.weight" (and ".bias"): convert_hf_to_gguf.py --fuse-qkv writes
// torch.cat([q, k, v], dim=0) of the (rope-permuted, for llama) attn_q/k/v tensors, and llama-model.cpp
// create_tensor_qkv loads it instead of them (docs/gguf.md §3). Its HF parts, q first:
// "blk.3.attn_qkv.bias" -> {"model.layers.3.self_attn.q_proj.bias", ...k_proj.bias, ...v_proj.bias}; nullopt
// for any other name.
std::optional<std::array<std::string, 3>> fused_qkv_hf_names(const std::string& gguf_name);
// The inverse for one part: "model.layers.3.self_attn.k_proj.weight" -> {"blk.3.attn_qkv.weight", 1} (the
// part's index in the row order); nullopt for names that are not a q/k/v projection's weight or bias.
struct FusedQkvPart {
  std::string gguf_name;
  int index = 0;
};
std::optional<FusedQkvPart> fused_qkv_part(const std::string& hf_name);

// Rows of a Q or K projection [heads * head_dim, cols] (row-major): inside each head,
//   out row 2i + j <- in row j * head_dim / 2 + i   (i < head_dim / 2, j in {0, 1}),
// which turns half-split rotary pairs (x[i], x[i + hd/2]) into adjacent ones (x[2i], x[2i+1]).
// Throws std::invalid_argument when rows is not heads * an even head_dim.
void permute_rope_rows(const float* in, float* out, int64_t rows, int64_t cols, int64_t heads);
// The inverse (reading a GGUF back into the HF layout).
void unpermute_rope_rows(const float* in, float* out, int64_t rows, int64_t cols, int64_t heads);

}  // namespace qforge::exporters::gguf
