#pragma once
// llama.cpp's file types for arch "llama" and the ggml type each one gives every tensor
// (llama-quant.cpp llama_tensor_get_type; docs/gguf.md §7). The GGUF exporter, `quantize-gguf` and
// format-exact QAT presets (trainers/gguf_qat.h) all read this one mix, so the types a model trains
// with and the types a file is written in cannot disagree.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fakequant/formats/ggml/block_types.h"
#include "layers/llama.h"

namespace qforge::exporters::gguf {

enum class LlamaFileType {
  kF32, kF16, kBF16, kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0, kQ2_K, kQ2_K_S, kQ3_K_S, kQ3_K_M, kQ3_K_L,
  kQ4_K_S, kQ4_K_M, kQ5_K_S, kQ5_K_M, kQ6_K, kIQ4_NL, kIQ4_XS, kIQ3_XXS, kIQ3_XS, kIQ3_S, kIQ3_M,
  kIQ2_XXS, kIQ2_XS, kIQ2_S, kIQ2_M, kIQ1_S, kIQ1_M, kTQ1_0, kTQ2_0,
};

// "The file type's default type" where a rule names a type (llama_ftype_get_default_type).
inline constexpr uint32_t kMixBase = 0xffffffffu;

// A condition of llama_tensor_get_type_impl for one tensor category (docs/gguf.md §7 gives each one's
// llama.cpp expression). i is the tensor's index among its category, n the count of that category.
enum class MixWhen {
  kNever,              // the rule is absent: the base type
  kAlways,
  kGqaAtLeast4,        // n_head / n_head_kv >= 4
  kIndexBelow,         // i < n (attn_v: i_attention_wv < 2)
  kLayerBelow,         // i < n_layer / n
  kLayerBelowImatrix,  // i < n_layer / n and an imatrix was given
  kLayerBelowNoImatrix,
  kLayerMiddle,        // n_layer / 8 <= i < 7 * n_layer / 8
  kImatrix,            // an imatrix was given
  kNoImatrix,
  kMoreBits,           // use_more_bits(i, n)
};
// `then` when `when` holds, else `then2` when `when2` holds (the else-if of IQ3_XXS's three-way
// choices), else `otherwise`; kMixBase in any of them is the base type.
struct MixRule {
  MixWhen when = MixWhen::kNever;
  int64_t n = 0;
  uint32_t then = kMixBase;
  uint32_t otherwise = kMixBase;
  MixWhen when2 = MixWhen::kNever;
  int64_t n2 = 0;
  uint32_t then2 = kMixBase;
};

// One row per file type (llama_type_table.cpp).
struct LlamaFileTypeInfo {
  LlamaFileType type;
  std::string_view name;  // llama-quantize's spelling: "Q4_K_M"
  uint32_t ftype;         // general.file_type (llama.h enum llama_ftype)
  uint32_t base;          // ggml type of every tensor no rule moves (llama_ftype_get_default_type)
  MixRule attn_v;         // attn_v (and fused attn_qkv), counted in file order
  MixRule ffn_down;       // ffn_down, i = its layer
  uint32_t attn_output = kMixBase;  // the type of every attn_output
  uint32_t token_embd = kMixBase;   // an untied token_embd
  // output.weight (and a tied token_embd) when the base block divides its rows and the base is not Q8_0
  uint32_t output = fakequant::ggml::kGgmlQ6_K;
  MixRule attn_qk;                  // attn_q and attn_k (the same rules in every file type)
  MixRule ffn_gate_up;              // ffn_gate and ffn_up, i = its layer
  // llama.cpp's IQ1/IQ2 branch (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M): no 70B attn_v raise.
  bool low_bit_branch = false;
  // A ggml type that requires an imatrix in this file type besides the types that always do
  // (Q2_K_S: Q2_K), or kMixBase.
  uint32_t needs_imatrix = kMixBase;
};
// The table of file types qforge writes, in the order help texts list them.
std::span<const LlamaFileTypeInfo> llama_file_types();
const LlamaFileTypeInfo& llama_file_type_info(LlamaFileType type);
// "F32, F16, BF16, Q4_0, ...": for help texts.
std::string llama_file_type_list();

// "F32", "f16", "q4_k_m", ... (case-insensitive); std::invalid_argument listing the table otherwise.
LlamaFileType parse_llama_file_type(const std::string& name);
std::string llama_file_type_name(LlamaFileType type);
// general.file_type (llama_ftype): 0, 1, 32, 2, ...
uint32_t llama_ftype_id(LlamaFileType type);

// more_bits(i, n) of llama.cpp's use_more_bits (docs/gguf.md §7).
bool use_more_bits(int64_t i, int64_t n);

// What llama_tensor_get_type reads besides a tensor's own name and shape (quantize_state_impl and the
// model's hparams).
struct LlamaMixModel {
  int64_t n_layer = 0;                // llama.block_count
  int64_t n_head = 0, n_head_kv = 0;  // n_gqa = n_head / n_head_kv
  bool tied = false;                  // no output.weight: token_embd is treated as the output
  bool has_imatrix = false;           // an importance matrix was given (changes Q4_0, Q5_0, IQ4_*, IQ3_XXS)
};
// One tensor in file order, with its position among its category (the counters of llama.cpp).
struct LlamaTensorSite {
  std::string_view name;   // GGUF name
  uint64_t ne0 = 0;
  int ndims = 2;
  int64_t i_attention_wv = 0, n_attention_wv = 0;  // among attn_v/attn_qkv tensors
  int64_t i_layer = 0;  // ffn_down, ffn_gate, ffn_up: how many tensors of its category came before
};

// The ggml type id the file type assigns to a tensor, after llama.cpp's row-size fallback (ne0 not a
// multiple of the block: Q2_K/Q3_K/TQ* -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, IQ* -> IQ4_NL,
// then F16).
// Tensors llama.cpp does not quantize (1-D, norms, not "*weight") stay F32.
uint32_t llama_tensor_type(LlamaFileType type, const LlamaMixModel& model, const LlamaTensorSite& site);

struct LlamaMixTensor {
  std::string name;  // GGUF name
  uint64_t ne0 = 0;
  int ndims = 2;
};
// llama_tensor_type of every tensor, counting attn_v, ffn_down, ffn_gate and ffn_up in the given (file) order.
std::vector<uint32_t> llama_mix(LlamaFileType type, const LlamaMixModel& model, std::span<const LlamaMixTensor> tensors);

// The ggml type id `type`'s mix gives every parameter of `model`, by Hugging Face parameter name
// ("model.layers.0.self_attn.v_proj.weight"): llama_mix over the parameters in GGUF order, exactly as
// build_llama_gguf assigns them (before LlamaExportOptions::tensor_types overrides).
std::map<std::string, uint32_t> llama_mix_types(const layers::LlamaForCausalLM& model, LlamaFileType type,
                                                bool has_imatrix = false);

// llama-quant.cpp tensor_requires_imatrix: whether a tensor of `ggml_type` named `name` needs importance
// in a `type` file: IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S and IQ3_XXS tensors in any file, and Q2_K tensors
// in a Q2_K_S file, other than token_embd and output.
bool requires_imatrix(LlamaFileType type, const std::string& name, uint32_t ggml_type);
// llama-quantize's refusal: std::invalid_argument "<who>: file type Q2_K_S needs an importance matrix
// (--imatrix) for tensor 'blk.0.attn_q.weight' (Q2_K)" when requires_imatrix and `importance` is null.
void check_imatrix(LlamaFileType type, const std::string& name, uint32_t ggml_type, const float* importance,
                   const std::string& who);

}  // namespace qforge::exporters::gguf
