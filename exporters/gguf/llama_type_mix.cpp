// The tensor types of llama.cpp's file types (llama-quant.cpp llama_tensor_get_type_impl,
// tensor_type_fallback, tensor_requires_imatrix; docs/gguf.md §7).
#include "exporters/gguf/llama_type_mix.h"

#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::exporters::gguf {
namespace {

using W = MixWhen;
constexpr uint32_t kBase = kMixBase;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// llama-quant.cpp tensor_get_category: substring matches in this order, so "attn_qkv.weight" is attn_v-like
// (category_is_attn_v) and never reaches attn_q.
enum class Category { kOutput, kTokenEmbd, kAttnV, kAttnK, kAttnQ, kAttnOutput, kFfnUp, kFfnGate, kFfnDown, kOther };

Category category_of(std::string_view name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight") return Category::kTokenEmbd;
  for (const std::string_view v : {"attn_qkv.weight", "attn_kv_b.weight", "attn_v.weight"})
    if (contains(name, v)) return Category::kAttnV;
  if (contains(name, "attn_k.weight")) return Category::kAttnK;
  if (contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(name, "ffn_up")) return Category::kFfnUp;
  if (contains(name, "ffn_gate")) return Category::kFfnGate;
  if (contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

// Only >= 2-D "*weight" tensors that are not norms are quantized (tensor_allows_quantization).
bool quantizable(std::string_view name, int ndims) {
  return ndims >= 2 && ends_with(name, "weight") && !contains(name, "_norm.weight");
}

int64_t block_of(uint32_t type) { return fakequant::ggml::find_type(static_cast<int>(type))->block_elements; }

// tensor_type_fallback: a 256-element super-block type on rows it does not divide becomes a 32-element
// type of about the same size (the IQ grid types and IQ4_XS: IQ4_NL; the ternary types: Q4_0); when that
// does not divide either (or the type was 32-element), F16.
uint32_t with_fallback(uint32_t type, uint64_t ne0) {
  if (ne0 % static_cast<uint64_t>(block_of(type)) == 0) return type;
  switch (type) {
    case kGgmlIQ1_S: case kGgmlIQ1_M: case kGgmlIQ2_XXS: case kGgmlIQ2_XS: case kGgmlIQ2_S:
    case kGgmlIQ3_XXS: case kGgmlIQ3_S: case kGgmlIQ4_XS: type = kGgmlIQ4_NL; break;
    case kGgmlQ2_K: case kGgmlQ3_K: case kGgmlTQ1_0: case kGgmlTQ2_0: type = kGgmlQ4_0; break;
    case kGgmlQ4_K: type = kGgmlQ5_0; break;
    case kGgmlQ5_K: type = kGgmlQ5_1; break;
    case kGgmlQ6_K: type = kGgmlQ8_0; break;
    default: break;
  }
  return ne0 % static_cast<uint64_t>(block_of(type)) == 0 ? type : static_cast<uint32_t>(kGgmlF16);
}

bool holds(MixWhen when, int64_t rule_n, const LlamaMixModel& m, int64_t i, int64_t n) {
  switch (when) {
    case W::kNever: return false;
    case W::kAlways: return true;
    case W::kGqaAtLeast4: return m.n_head_kv > 0 && m.n_head / m.n_head_kv >= 4;
    case W::kIndexBelow: return i < rule_n;
    case W::kLayerBelow: return i < n / rule_n;
    case W::kLayerBelowImatrix: return m.has_imatrix && i < n / rule_n;
    case W::kLayerBelowNoImatrix: return !m.has_imatrix && i < n / rule_n;
    case W::kLayerMiddle: return i >= n / 8 && i < 7 * n / 8;
    case W::kImatrix: return m.has_imatrix;
    case W::kNoImatrix: return !m.has_imatrix;
    case W::kMoreBits: return use_more_bits(i, n);
  }
  return false;
}

uint32_t or_base(uint32_t type, uint32_t base) { return type == kBase ? base : type; }

uint32_t apply(const MixRule& rule, const LlamaMixModel& m, int64_t i, int64_t n, uint32_t base) {
  if (rule.when == W::kNever) return base;
  if (holds(rule.when, rule.n, m, i, n)) return or_base(rule.then, base);
  if (holds(rule.when2, rule.n2, m, i, n)) return or_base(rule.then2, base);
  return or_base(rule.otherwise, base);
}

// output.weight, and token_embd.weight of a tied model: Q8_0 when the base type's block does not divide
// the rows or the base is Q8_0, else the row's output column (Q6_K; Q5_K in IQ1/IQ2/IQ3_XXS files).
uint32_t output_type(const LlamaFileTypeInfo& t, uint64_t ne0) {
  if (ne0 % static_cast<uint64_t>(block_of(t.base)) != 0 || t.base == kGgmlQ8_0) return kGgmlQ8_0;
  return t.output;
}

uint32_t attn_v_type(const LlamaFileTypeInfo& t, const LlamaMixModel& m, const LlamaTensorSite& s) {
  const uint32_t type = apply(t.attn_v, m, s.i_attention_wv, s.n_attention_wv, t.base);
  // LLM_TYPE_70B (llama: 80 layers with GQA): 8 heads share attn_v, so one more bit costs little. The
  // IQ1/IQ2 branch returns before this raise.
  const bool is_70b = m.n_layer == 80 && m.n_head != m.n_head_kv;
  if (is_70b && !t.low_bit_branch && (type == kGgmlQ3_K || type == kGgmlQ4_K)) return kGgmlQ5_K;
  return type;
}

// llama_tensor_get_type_impl before the fallback.
uint32_t mixed_type(const LlamaFileTypeInfo& t, const LlamaMixModel& m, const LlamaTensorSite& s) {
  switch (category_of(s.name)) {
    case Category::kOutput: return output_type(t, s.ne0);
    case Category::kTokenEmbd: return m.tied ? output_type(t, s.ne0) : or_base(t.token_embd, t.base);
    case Category::kAttnV: return attn_v_type(t, m, s);
    case Category::kAttnK: case Category::kAttnQ: return apply(t.attn_qk, m, 0, 0, t.base);
    case Category::kAttnOutput: return or_base(t.attn_output, t.base);
    case Category::kFfnDown: return apply(t.ffn_down, m, s.i_layer, m.n_layer, t.base);
    case Category::kFfnGate: case Category::kFfnUp: return apply(t.ffn_gate_up, m, s.i_layer, m.n_layer, t.base);
    case Category::kOther: return t.base;
  }
  return t.base;
}

// tensor_requires_imatrix's types: ggml refuses IQ2_XXS, IQ2_XS and IQ1_S without importance
// (ggml_quantize_requires_imatrix); llama-quantize adds IQ3_XXS, IQ2_S and IQ1_M.
constexpr uint32_t kImatrixTypes[] = {kGgmlIQ3_XXS, kGgmlIQ2_XXS, kGgmlIQ2_XS, kGgmlIQ2_S, kGgmlIQ1_M, kGgmlIQ1_S};

}  // namespace

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
  for (const LlamaMixTensor& t : tensors) n_attention_wv += category_of(t.name) == Category::kAttnV;
  std::vector<uint32_t> types;
  // llama.cpp's i_attention_wv, i_ffn_down, i_ffn_gate, i_ffn_up (its i_ffn_gate/up stay 0 in the IQ1/IQ2
  // branch, which has no ffn_gate/ffn_up rule to read them).
  std::map<Category, int64_t> seen;
  for (const LlamaMixTensor& t : tensors) {
    const Category c = category_of(t.name);
    const int64_t i = seen[c];
    types.push_back(llama_tensor_type(type, model, {t.name, t.ne0, t.ndims, seen[Category::kAttnV], n_attention_wv, i}));
    // The counters advance only for the tensors the type selection sees (the quantizable ones).
    if (quantizable(t.name, t.ndims)) ++seen[c];
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
  for (const uint32_t t : kImatrixTypes)
    if (ggml_type == t) return true;
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
