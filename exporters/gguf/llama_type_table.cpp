// The table of llama.cpp's file types (llama.h enum llama_ftype, llama-quant.cpp
// llama_ftype_get_default_type and llama_tensor_get_type_impl; docs/gguf.md §7) and the lookups that read
// it. The rules are applied by llama_type_mix.cpp.
#include <cctype>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/llama_type_mix.h"

namespace qforge::exporters::gguf {
namespace {

using W = MixWhen;
using T = LlamaFileType;
constexpr uint32_t kBase = kMixBase;

// Rule builders, so that a row reads as llama.cpp's branch: gqa4(Q4_K, Q3_K) is
// "n_gqa >= 4 ? Q4_K : Q3_K", layer_below(8, Q5_K) is "i_layer < n_layer/8 ? Q5_K : base".
constexpr MixRule always(uint32_t then) { return {W::kAlways, 0, then}; }
constexpr MixRule gqa4(uint32_t then, uint32_t otherwise = kBase) { return {W::kGqaAtLeast4, 0, then, otherwise}; }
constexpr MixRule index_below(int64_t n, uint32_t then, uint32_t otherwise = kBase) {
  return {W::kIndexBelow, n, then, otherwise};
}
constexpr MixRule layer_below(int64_t n, uint32_t then, uint32_t otherwise = kBase) {
  return {W::kLayerBelow, n, then, otherwise};
}
constexpr MixRule more_bits(uint32_t then) { return {W::kMoreBits, 0, then}; }
// Q4_0/Q5_0: only with an imatrix; IQ4_NL/IQ4_XS: only without (llama-quant.cpp's ffn_down branch).
constexpr MixRule imatrix_layer_below(int64_t n, uint32_t then) { return {W::kLayerBelowImatrix, n, then}; }
constexpr MixRule no_imatrix_layer_below(int64_t n, uint32_t then) { return {W::kLayerBelowNoImatrix, n, then}; }
// "i_layer >= n_layer/8 && i_layer < 7*n_layer/8 ? then : base" (IQ3_XS ffn_gate/ffn_up).
constexpr MixRule layer_middle(uint32_t then) { return {W::kLayerMiddle, 0, then}; }

// IQ3_XXS's three-way choices. attn_v: "n_gqa >= 4 ? Q4_K : !has_imatrix ? IQ3_S : IQ3_XXS".
constexpr MixRule kIQ3_XXSAttnV{W::kGqaAtLeast4, 0, kGgmlQ4_K, kBase, W::kNoImatrix, 0, kGgmlIQ3_S};
// ffn_down: "IQ3_XXS && !has_imatrix: i_layer < n_layer/8 ? Q4_K : Q3_K" (with an imatrix: the base).
constexpr MixRule kIQ3_XXSFfnDown{W::kImatrix, 0, kBase, kGgmlQ3_K, W::kLayerBelow, 8, kGgmlQ4_K};

// One line per file type, in the order help texts list them; {} is no rule, kBase the base type. Arch
// llama, dense, not Falcon; a row's rules are the branches of llama_tensor_get_type_impl that name its ftype.
constexpr LlamaFileTypeInfo kTypes[] = {
    // type       name       ftype base          attn_v                                ffn_down                               attn_output   token_embd  output     attn_q/attn_k         ffn_gate/ffn_up             low_bit needs_imatrix
    {T::kF32,     "F32",     0,  kGgmlF32,     {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kF16,     "F16",     1,  kGgmlF16,     {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kBF16,    "BF16",    32, kGgmlBF16,    {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ4_0,    "Q4_0",    2,  kGgmlQ4_0,    {},                                   imatrix_layer_below(8, kGgmlQ4_1),     kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ4_1,    "Q4_1",    3,  kGgmlQ4_1,    {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ5_0,    "Q5_0",    8,  kGgmlQ5_0,    {},                                   imatrix_layer_below(8, kGgmlQ5_1),     kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ5_1,    "Q5_1",    9,  kGgmlQ5_1,    {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ8_0,    "Q8_0",    7,  kGgmlQ8_0,    {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ2_K,    "Q2_K",    10, kGgmlQ2_K,    gqa4(kGgmlQ4_K, kGgmlQ3_K),           always(kGgmlQ3_K),                     kGgmlQ3_K,    kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ2_K_S,  "Q2_K_S",  21, kGgmlQ2_K,    gqa4(kGgmlQ4_K),                      layer_below(8, kGgmlQ4_K),             kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kGgmlQ2_K},
    {T::kQ3_K_S,  "Q3_K_S",  11, kGgmlQ3_K,    {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ3_K_M,  "Q3_K_M",  12, kGgmlQ3_K,    index_below(2, kGgmlQ5_K, kGgmlQ4_K), layer_below(16, kGgmlQ5_K, kGgmlQ4_K), kGgmlQ4_K,    kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ3_K_L,  "Q3_K_L",  13, kGgmlQ3_K,    always(kGgmlQ5_K),                    always(kGgmlQ5_K),                     kGgmlQ5_K,    kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ4_K_S,  "Q4_K_S",  14, kGgmlQ4_K,    index_below(4, kGgmlQ5_K),            layer_below(8, kGgmlQ5_K),             kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ4_K_M,  "Q4_K_M",  15, kGgmlQ4_K,    more_bits(kGgmlQ6_K),                 more_bits(kGgmlQ6_K),                  kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ5_K_S,  "Q5_K_S",  16, kGgmlQ5_K,    {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ5_K_M,  "Q5_K_M",  17, kGgmlQ5_K,    more_bits(kGgmlQ6_K),                 more_bits(kGgmlQ6_K),                  kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kQ6_K,    "Q6_K",    18, kGgmlQ6_K,    {},                                   {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kIQ4_NL,  "IQ4_NL",  25, kGgmlIQ4_NL,  gqa4(kGgmlQ5_K),                      no_imatrix_layer_below(8, kGgmlQ5_K),  kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kIQ4_XS,  "IQ4_XS",  30, kGgmlIQ4_XS,  gqa4(kGgmlQ5_K),                      no_imatrix_layer_below(8, kGgmlQ5_K),  kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kIQ3_XXS, "IQ3_XXS", 23, kGgmlIQ3_XXS, kIQ3_XXSAttnV,                        kIQ3_XXSFfnDown,                       kGgmlIQ3_S,   kGgmlIQ3_S, kGgmlQ5_K, always(kGgmlIQ2_S),   {},                         false, kBase},
    {T::kIQ3_XS,  "IQ3_XS",  22, kGgmlIQ3_S,   gqa4(kGgmlQ4_K),                      {},                                    kBase,        kBase,      kGgmlQ6_K, always(kGgmlIQ3_XXS), layer_middle(kGgmlIQ3_XXS), false, kBase},
    {T::kIQ3_S,   "IQ3_S",   26, kGgmlIQ3_S,   gqa4(kGgmlQ4_K),                      {},                                    kBase,        kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kIQ3_M,   "IQ3_M",   27, kGgmlIQ3_S,   always(kGgmlQ4_K),                    layer_below(8, kGgmlQ4_K),             kGgmlQ4_K,    kBase,      kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kIQ2_XXS, "IQ2_XXS", 19, kGgmlIQ2_XXS, gqa4(kGgmlQ4_K, kGgmlQ2_K),           layer_below(8, kGgmlQ2_K),             kBase,        kGgmlQ2_K,  kGgmlQ5_K, {},                   {},                         true,  kBase},
    {T::kIQ2_XS,  "IQ2_XS",  20, kGgmlIQ2_XS,  gqa4(kGgmlQ4_K, kGgmlQ2_K),           layer_below(8, kGgmlQ2_K),             kBase,        kGgmlQ2_K,  kGgmlQ5_K, {},                   {},                         true,  kBase},
    {T::kIQ2_S,   "IQ2_S",   28, kGgmlIQ2_XS,  gqa4(kGgmlQ4_K, kGgmlIQ3_S),          layer_below(8, kGgmlIQ3_S),            kGgmlIQ3_S,   kGgmlIQ3_S, kGgmlQ5_K, {},                   {},                         true,  kBase},
    {T::kIQ2_M,   "IQ2_M",   29, kGgmlIQ2_S,   gqa4(kGgmlQ4_K, kGgmlIQ3_S),          layer_below(8, kGgmlIQ3_S),            kGgmlIQ3_S,   kGgmlIQ3_S, kGgmlQ5_K, {},                   {},                         true,  kBase},
    {T::kIQ1_S,   "IQ1_S",   24, kGgmlIQ1_S,   gqa4(kGgmlQ4_K, kGgmlQ2_K),           layer_below(8, kGgmlQ2_K),             kGgmlIQ2_XXS, kGgmlQ2_K,  kGgmlQ5_K, {},                   {},                         true,  kBase},
    {T::kIQ1_M,   "IQ1_M",   31, kGgmlIQ1_M,   gqa4(kGgmlQ4_K, kGgmlQ2_K),           layer_below(8, kGgmlQ2_K),             kGgmlIQ2_XXS, kGgmlQ2_K,  kGgmlQ5_K, {},                   {},                         true,  kBase},
    {T::kTQ1_0,   "TQ1_0",   36, kGgmlTQ1_0,   {},                                   {},                                    kBase,        kGgmlQ4_K,  kGgmlQ6_K, {},                   {},                         false, kBase},
    {T::kTQ2_0,   "TQ2_0",   37, kGgmlTQ2_0,   {},                                   {},                                    kBase,        kGgmlQ4_K,  kGgmlQ6_K, {},                   {},                         false, kBase},
};

constexpr bool one_row_per_type() {
  for (size_t i = 0; i < std::size(kTypes); ++i)
    if (static_cast<size_t>(kTypes[i].type) != i) return false;
  return true;
}
static_assert(one_row_per_type(), "one row per LlamaFileType, in enum order");

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::span<const LlamaFileTypeInfo> llama_file_types() { return kTypes; }

const LlamaFileTypeInfo& llama_file_type_info(LlamaFileType type) {
  for (const LlamaFileTypeInfo& info : kTypes)
    if (info.type == type) return info;
  throw std::logic_error("llama_file_type_info: a LlamaFileType without a table row");
}

LlamaFileType parse_llama_file_type(const std::string& name) {
  const std::string n = lower(name);
  for (const LlamaFileTypeInfo& info : kTypes)
    if (lower(std::string(info.name)) == n) return info.type;
  throw std::invalid_argument("gguf llama export: unknown file type '" + name + "' (expected one of " +
                              llama_file_type_list() + ")");
}

std::string llama_file_type_name(LlamaFileType type) { return std::string(llama_file_type_info(type).name); }

uint32_t llama_ftype_id(LlamaFileType type) { return llama_file_type_info(type).ftype; }

std::string llama_file_type_list() {
  std::string out;
  for (const LlamaFileTypeInfo& info : kTypes) out += (out.empty() ? "" : ", ") + std::string(info.name);
  return out;
}

}  // namespace qforge::exporters::gguf
