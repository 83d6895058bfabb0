// The tensor types of llama.cpp's file types (llama-quant.cpp llama_tensor_get_type_impl,
// tensor_type_fallback, tensor_requires_imatrix; docs/gguf.md §7).
#include "exporters/gguf/llama_type_mix.h"

#include <cctype>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::exporters::gguf {
namespace {

using W = MixWhen;
constexpr uint32_t kBase = kMixBase;

// One line per file type (ids: llama.h enum llama_ftype; base: llama_ftype_get_default_type). The rule
// columns are the branches of llama_tensor_get_type_impl for arch llama, dense, not Falcon; the output
// and token-embedding rules are common to every quantized type (output_type below).
constexpr LlamaFileTypeInfo kTypes[] = {
    // type                  name      ftype  base         attn_v                                 ffn_down                                   attn_output needs_imatrix
    {LlamaFileType::kF32,    "F32",    0,  kGgmlF32,    {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kF16,    "F16",    1,  kGgmlF16,    {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kBF16,   "BF16",   32, kGgmlBF16,   {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kQ4_0,   "Q4_0",   2,  kGgmlQ4_0,   {},                                    {W::kLayerBelowImatrix, 8, kGgmlQ4_1},     kBase, kBase},
    {LlamaFileType::kQ4_1,   "Q4_1",   3,  kGgmlQ4_1,   {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kQ5_0,   "Q5_0",   8,  kGgmlQ5_0,   {},                                    {W::kLayerBelowImatrix, 8, kGgmlQ5_1},     kBase, kBase},
    {LlamaFileType::kQ5_1,   "Q5_1",   9,  kGgmlQ5_1,   {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kQ8_0,   "Q8_0",   7,  kGgmlQ8_0,   {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kQ2_K,   "Q2_K",   10, kGgmlQ2_K,   {W::kGqaAtLeast4, 0, kGgmlQ4_K, kGgmlQ3_K}, {W::kAlways, 0, kGgmlQ3_K},            kGgmlQ3_K, kBase},
    {LlamaFileType::kQ2_K_S, "Q2_K_S", 21, kGgmlQ2_K,   {W::kGqaAtLeast4, 0, kGgmlQ4_K},       {W::kLayerBelow, 8, kGgmlQ4_K},            kBase, kGgmlQ2_K},
    {LlamaFileType::kQ3_K_S, "Q3_K_S", 11, kGgmlQ3_K,   {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kQ3_K_M, "Q3_K_M", 12, kGgmlQ3_K,   {W::kIndexBelow, 2, kGgmlQ5_K, kGgmlQ4_K}, {W::kLayerBelow, 16, kGgmlQ5_K, kGgmlQ4_K}, kGgmlQ4_K, kBase},
    {LlamaFileType::kQ3_K_L, "Q3_K_L", 13, kGgmlQ3_K,   {W::kAlways, 0, kGgmlQ5_K},            {W::kAlways, 0, kGgmlQ5_K},                kGgmlQ5_K, kBase},
    {LlamaFileType::kQ4_K_S, "Q4_K_S", 14, kGgmlQ4_K,   {W::kIndexBelow, 4, kGgmlQ5_K},        {W::kLayerBelow, 8, kGgmlQ5_K},            kBase, kBase},
    {LlamaFileType::kQ4_K_M, "Q4_K_M", 15, kGgmlQ4_K,   {W::kMoreBits, 0, kGgmlQ6_K},          {W::kMoreBits, 0, kGgmlQ6_K},              kBase, kBase},
    {LlamaFileType::kQ5_K_S, "Q5_K_S", 16, kGgmlQ5_K,   {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kQ5_K_M, "Q5_K_M", 17, kGgmlQ5_K,   {W::kMoreBits, 0, kGgmlQ6_K},          {W::kMoreBits, 0, kGgmlQ6_K},              kBase, kBase},
    {LlamaFileType::kQ6_K,   "Q6_K",   18, kGgmlQ6_K,   {},                                    {},                                        kBase, kBase},
    {LlamaFileType::kIQ4_NL, "IQ4_NL", 25, kGgmlIQ4_NL, {W::kGqaAtLeast4, 0, kGgmlQ5_K},       {W::kLayerBelowNoImatrix, 8, kGgmlQ5_K},   kBase, kBase},
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// llama-quant.cpp tensor_get_category / category_is_attn_v (substring matches, as there).
bool is_attn_v(std::string_view name) {
  return contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight") || contains(name, "attn_v.weight");
}
bool is_ffn_down(std::string_view name) { return !is_attn_v(name) && contains(name, "ffn_down"); }

// Only >= 2-D "*weight" tensors that are not norms are quantized (tensor_allows_quantization).
bool quantizable(std::string_view name, int ndims) {
  return ndims >= 2 && ends_with(name, "weight") && !contains(name, "_norm.weight");
}

int64_t block_of(uint32_t type) { return fakequant::ggml::find_type(static_cast<int>(type))->block_elements; }

// tensor_type_fallback: a 256-element super-block type on rows it does not divide becomes a 32-element
// type of about the same size; when that does not divide either (or the type was 32-element), F16.
uint32_t with_fallback(uint32_t type, uint64_t ne0) {
  if (ne0 % static_cast<uint64_t>(block_of(type)) == 0) return type;
  switch (type) {
    case kGgmlQ2_K: case kGgmlQ3_K: type = kGgmlQ4_0; break;
    case kGgmlQ4_K: type = kGgmlQ5_0; break;
    case kGgmlQ5_K: type = kGgmlQ5_1; break;
    case kGgmlQ6_K: type = kGgmlQ8_0; break;
    default: break;
  }
  return ne0 % static_cast<uint64_t>(block_of(type)) == 0 ? type : static_cast<uint32_t>(kGgmlF16);
}

bool holds(const MixRule& rule, const LlamaMixModel& m, int64_t i, int64_t n) {
  switch (rule.when) {
    case W::kNever: return false;
    case W::kAlways: return true;
    case W::kGqaAtLeast4: return m.n_head_kv > 0 && m.n_head / m.n_head_kv >= 4;
    case W::kIndexBelow: return i < rule.n;
    case W::kLayerBelow: return i < n / rule.n;
    case W::kLayerBelowImatrix: return m.has_imatrix && i < n / rule.n;
    case W::kLayerBelowNoImatrix: return !m.has_imatrix && i < n / rule.n;
    case W::kMoreBits: return use_more_bits(i, n);
  }
  return false;
}

uint32_t apply(const MixRule& rule, const LlamaMixModel& m, int64_t i, int64_t n, uint32_t base) {
  if (rule.when == W::kNever) return base;
  const uint32_t type = holds(rule, m, i, n) ? rule.then : rule.otherwise;
  return type == kBase ? base : type;
}

// output.weight, and token_embd.weight of a tied model: Q8_0 when the base type's block does not divide
// the rows or the base is Q8_0, else Q6_K (IQ1/IQ2/IQ3_XXS files would use Q5_K; none here).
uint32_t output_type(const LlamaFileTypeInfo& t, uint64_t ne0) {
  if (ne0 % static_cast<uint64_t>(block_of(t.base)) != 0 || t.base == kGgmlQ8_0) return kGgmlQ8_0;
  return kGgmlQ6_K;
}

// llama_tensor_get_type_impl before the fallback.
uint32_t mixed_type(const LlamaFileTypeInfo& t, const LlamaMixModel& m, const LlamaTensorSite& s) {
  if (s.name == "output.weight" || (m.tied && s.name == "token_embd.weight")) return output_type(t, s.ne0);
  if (s.name == "token_embd.weight") return t.base;
  if (is_attn_v(s.name)) {
    uint32_t type = apply(t.attn_v, m, s.i_attention_wv, s.n_attention_wv, t.base);
    // LLM_TYPE_70B (llama: 80 layers with GQA): 8 heads share attn_v, so one more bit costs little.
    const bool is_70b = m.n_layer == 80 && m.n_head != m.n_head_kv;
    if (is_70b && (type == kGgmlQ3_K || type == kGgmlQ4_K)) type = kGgmlQ5_K;
    return type;
  }
  if (is_ffn_down(s.name)) return apply(t.ffn_down, m, s.i_layer, m.n_layer, t.base);
  if (contains(s.name, "attn_output.weight")) return t.attn_output == kBase ? t.base : t.attn_output;
  return t.base;
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

bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

uint32_t llama_tensor_type(LlamaFileType type, const LlamaMixModel& model, const LlamaTensorSite& site) {
  if (!quantizable(site.name, site.ndims)) return kGgmlF32;
  const LlamaFileTypeInfo& t = llama_file_type_info(type);
  // A float base type is no quantization: llama_tensor_get_type returns it for every tensor.
  if (!fakequant::ggml::find_type(static_cast<int>(t.base))->is_quantized()) return t.base;
  return with_fallback(mixed_type(t, model, site), site.ne0);
}

std::vector<uint32_t> llama_mix(LlamaFileType type, const LlamaMixModel& model, std::span<const LlamaMixTensor> tensors) {
  int64_t n_attention_wv = 0;
  for (const LlamaMixTensor& t : tensors) n_attention_wv += is_attn_v(t.name);
  std::vector<uint32_t> types;
  int64_t i_attention_wv = 0, i_ffn_down = 0;
  for (const LlamaMixTensor& t : tensors) {
    const LlamaTensorSite site{t.name, t.ne0, t.ndims, i_attention_wv, n_attention_wv, i_ffn_down};
    types.push_back(llama_tensor_type(type, model, site));
    // The counters advance only for the tensors the type selection sees (the quantizable ones).
    if (quantizable(t.name, t.ndims)) {
      i_attention_wv += is_attn_v(t.name);
      i_ffn_down += is_ffn_down(t.name);
    }
  }
  return types;
}

std::map<std::string, uint32_t> llama_mix_types(const layers::LlamaForCausalLM& model, LlamaFileType type,
                                                bool has_imatrix) {
  const layers::LlamaConfig& c = model.config();
  const LlamaMixModel m{c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, model.lm_head() == nullptr,
                        has_imatrix};
  std::vector<std::string> hf_names;
  std::vector<LlamaMixTensor> tensors;
  for (const auto& [hf_name, param] : model.named_parameters()) {  // GGUF order: layers in order
    const auto gguf_name = gguf_tensor_name(hf_name);
    if (!gguf_name) throw std::invalid_argument("gguf llama export: parameter '" + hf_name + "' has no GGUF name");
    const autograd::Shape& shape = param.shape();
    hf_names.push_back(hf_name);
    tensors.push_back({*gguf_name, static_cast<uint64_t>(shape[shape.ndim() - 1]), static_cast<int>(shape.ndim())});
  }
  const std::vector<uint32_t> mixed = llama_mix(type, m, tensors);
  std::map<std::string, uint32_t> types;
  for (size_t i = 0; i < hf_names.size(); ++i) types[hf_names[i]] = mixed[i];
  return types;
}

bool requires_imatrix(LlamaFileType type, const std::string& name, uint32_t ggml_type) {
  if (name == "token_embd.weight" || name == "output.weight") return false;
  return ggml_type == llama_file_type_info(type).needs_imatrix;
}

void check_imatrix(LlamaFileType type, const std::string& name, uint32_t ggml_type, const float* importance,
                   const std::string& who) {
  if (importance != nullptr || !requires_imatrix(type, name, ggml_type)) return;
  throw std::invalid_argument(who + ": file type " + llama_file_type_name(type) +
                              " needs an importance matrix (--imatrix) for tensor '" + name + "' (" +
                              fakequant::ggml::display_name(*fakequant::ggml::find_type(static_cast<int>(ggml_type))) +
                              "), as llama-quantize requires");
}

}  // namespace qforge::exporters::gguf
