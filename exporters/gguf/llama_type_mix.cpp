// The tensor types of llama.cpp's file types (llama-quant.cpp llama_tensor_get_type; docs/gguf.md §7).
#include "exporters/gguf/llama_type_mix.h"

#include <cctype>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::exporters::gguf {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Q4_K_M shape fallback (llama-quant.cpp: tensors whose rows do not fill 256-element super-blocks).
uint32_t with_fallback(uint32_t type, uint64_t ne0) {
  if (type == kGgmlQ4_K || type == kGgmlQ6_K) {
    if (ne0 % 256 == 0) return type;
    type = type == kGgmlQ4_K ? kGgmlQ5_0 : kGgmlQ8_0;
  }
  const auto& block = fakequant::ggml::block_type(static_cast<int>(type));
  if (ne0 % static_cast<uint64_t>(block.block_elements) != 0) return kGgmlF16;
  return type;
}

uint32_t q4_k_m_type(const std::string& name, int64_t index, int64_t count, bool tied) {
  if (name == "output.weight") return kGgmlQ6_K;
  if (name == "token_embd.weight") return tied ? kGgmlQ6_K : kGgmlQ4_K;
  if (ends_with(name, ".attn_v.weight") || ends_with(name, ".ffn_down.weight"))
    return use_more_bits(index, count) ? kGgmlQ6_K : kGgmlQ4_K;
  return kGgmlQ4_K;
}

}  // namespace

// One line per file type: its llama-quantize name and general.file_type (llama.h enum llama_ftype).
std::span<const LlamaFileTypeInfo> llama_file_types() {
  static constexpr LlamaFileTypeInfo kTypes[] = {
      {LlamaFileType::kF32, "F32", 0},       {LlamaFileType::kF16, "F16", 1},
      {LlamaFileType::kBF16, "BF16", 32},    {LlamaFileType::kQ8_0, "Q8_0", 7},
      {LlamaFileType::kQ4_K_M, "Q4_K_M", 15}, {LlamaFileType::kIQ4_NL, "IQ4_NL", 25},
  };
  return kTypes;
}

LlamaFileType parse_llama_file_type(const std::string& name) {
  const std::string n = lower(name);
  for (const LlamaFileTypeInfo& info : llama_file_types())
    if (lower(std::string(info.name)) == n) return info.type;
  std::string expected;
  const auto types = llama_file_types();
  for (size_t i = 0; i < types.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == types.size() ? " or " : ", ") + std::string(types[i].name);
  throw std::invalid_argument("gguf llama export: unknown file type '" + name + "' (expected " + expected + ")");
}

std::string llama_file_type_name(LlamaFileType type) {
  for (const LlamaFileTypeInfo& info : llama_file_types())
    if (info.type == type) return std::string(info.name);
  return "?";
}

uint32_t llama_ftype_id(LlamaFileType type) {
  for (const LlamaFileTypeInfo& info : llama_file_types())
    if (info.type == type) return info.ftype;
  return 0;
}

std::string llama_file_type_list() {
  std::string out;
  for (const LlamaFileTypeInfo& info : llama_file_types()) out += (out.empty() ? "" : ", ") + std::string(info.name);
  return out;
}

bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

uint32_t llama_tensor_type(LlamaFileType type, const std::string& name, uint64_t ne0, int ndims, int64_t index,
                           int64_t count, bool tied) {
  // Only >= 2-D "*weight" tensors that are not norms are quantized (llama-quant.cpp).
  if (ndims < 2 || !ends_with(name, "weight") || ends_with(name, "_norm.weight")) return kGgmlF32;
  switch (type) {
    case LlamaFileType::kF32: return kGgmlF32;
    case LlamaFileType::kF16: return kGgmlF16;
    case LlamaFileType::kBF16: return kGgmlBF16;
    case LlamaFileType::kQ8_0: return with_fallback(kGgmlQ8_0, ne0);
    case LlamaFileType::kIQ4_NL: return with_fallback(kGgmlIQ4_NL, ne0);
    case LlamaFileType::kQ4_K_M: return with_fallback(q4_k_m_type(name, index, count, tied), ne0);
  }
  return kGgmlF32;
}

std::map<std::string, uint32_t> llama_mix_types(const layers::LlamaForCausalLM& model, LlamaFileType type) {
  const bool tied = model.lm_head() == nullptr;
  const int64_t layers = model.config().num_hidden_layers;
  std::map<std::string, uint32_t> types;
  int64_t v_index = 0, down_index = 0;  // named_parameters() lists the layers in order
  for (const auto& [hf_name, param] : model.named_parameters()) {
    const auto gguf_name = gguf_tensor_name(hf_name);
    if (!gguf_name) throw std::invalid_argument("gguf llama export: parameter '" + hf_name + "' has no GGUF name");
    const autograd::Shape& shape = param.shape();
    const uint64_t ne0 = static_cast<uint64_t>(shape[shape.ndim() - 1]);
    int64_t index = 0;
    if (ends_with(*gguf_name, ".attn_v.weight")) index = v_index++;
    if (ends_with(*gguf_name, ".ffn_down.weight")) index = down_index++;
    types[hf_name] = llama_tensor_type(type, *gguf_name, ne0, static_cast<int>(shape.ndim()), index, layers, tied);
  }
  return types;
}

}  // namespace qforge::exporters::gguf
