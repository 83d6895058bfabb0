// LlamaForCausalLM -> GGUF. Metadata keys: docs/gguf.md §2; vocabulary: §4; type mix: §7.
#include "exporters/gguf/llama_gguf_export.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_writer.h"
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

std::string byte_token(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

bool is_byte_token(const std::string& t) {
  return t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4])) && !std::islower(static_cast<unsigned char>(t[3])) &&
         !std::islower(static_cast<unsigned char>(t[4]));
}

// SentencePiece writes ' ' as U+2581 (LOWER ONE EIGHTH BLOCK), which llama.cpp's SPM tokenizer
// substitutes for spaces before lookup.
std::string spm_escape(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == ' ') out += "\xE2\x96\x81";
    else out += c;
  }
  return out;
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

LlamaFileType parse_llama_file_type(const std::string& name) {
  const std::string n = lower(name);
  if (n == "f32") return LlamaFileType::kF32;
  if (n == "f16") return LlamaFileType::kF16;
  if (n == "bf16") return LlamaFileType::kBF16;
  if (n == "q8_0") return LlamaFileType::kQ8_0;
  if (n == "q4_k_m") return LlamaFileType::kQ4_K_M;
  if (n == "iq4_nl") return LlamaFileType::kIQ4_NL;
  throw std::invalid_argument("gguf llama export: unknown file type '" + name +
                              "' (expected F32, F16, BF16, Q8_0, Q4_K_M or IQ4_NL)");
}

std::string llama_file_type_name(LlamaFileType type) {
  switch (type) {
    case LlamaFileType::kF32: return "F32";
    case LlamaFileType::kF16: return "F16";
    case LlamaFileType::kBF16: return "BF16";
    case LlamaFileType::kQ8_0: return "Q8_0";
    case LlamaFileType::kQ4_K_M: return "Q4_K_M";
    case LlamaFileType::kIQ4_NL: return "IQ4_NL";
  }
  return "?";
}

uint32_t llama_ftype_id(LlamaFileType type) {
  switch (type) {
    case LlamaFileType::kF32: return 0;
    case LlamaFileType::kF16: return 1;
    case LlamaFileType::kBF16: return 32;
    case LlamaFileType::kQ8_0: return 7;
    case LlamaFileType::kQ4_K_M: return 15;
    case LlamaFileType::kIQ4_NL: return 25;
  }
  return 0;
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

std::vector<std::string> llama_gguf_tokens(const std::vector<std::string>& vocabulary) {
  std::vector<std::string> tokens;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < vocabulary.size(); ++i) {
    std::string t = spm_escape(vocabulary[i]);
    if (t.empty()) throw std::invalid_argument("gguf llama export: token " + std::to_string(i) + " is empty");
    if (!seen.insert(t).second)
      throw std::invalid_argument("gguf llama export: token " + std::to_string(i) + " '" + t + "' is a duplicate");
    tokens.push_back(std::move(t));
  }
  auto append = [&](const std::string& t) {
    if (seen.insert(t).second) tokens.push_back(t);
  };
  append("<unk>");
  append("<s>");
  append("</s>");
  for (int b = 0; b < 256; ++b) append(byte_token(b));
  return tokens;
}

namespace {

void add_metadata(GgufFile& file, const layers::LlamaConfig& c, LlamaFileType type, const std::string& name,
                  uint64_t n_tokens) {
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  file.set("general.architecture", "llama");
  file.set("general.name", name);
  file.set("general.file_type", llama_ftype_id(type));
  file.set("general.quantization_version", uint32_t{2});
  file.set("llama.vocab_size", u32(static_cast<int64_t>(n_tokens)));
  file.set("llama.context_length", u32(c.max_position_embeddings));
  file.set("llama.embedding_length", u32(c.hidden_size));
  file.set("llama.block_count", u32(c.num_hidden_layers));
  file.set("llama.feed_forward_length", u32(c.intermediate_size));
  file.set("llama.attention.head_count", u32(c.num_attention_heads));
  file.set("llama.attention.head_count_kv", u32(c.num_key_value_heads));
  file.set("llama.rope.dimension_count", u32(c.head_dim()));
  file.set("llama.rope.freq_base", c.rope_theta);
  file.set("llama.attention.layer_norm_rms_epsilon", c.rms_norm_eps);
}

void add_vocabulary(GgufFile& file, const std::vector<std::string>& tokens) {
  std::vector<float> scores(tokens.size(), 0.0f);
  std::vector<int32_t> types(tokens.size(), 1);
  uint32_t unk = 0, bos = 0, eos = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "<unk>") types[i] = 2, unk = static_cast<uint32_t>(i);
    else if (t == "<s>") types[i] = 3, bos = static_cast<uint32_t>(i);
    else if (t == "</s>") types[i] = 3, eos = static_cast<uint32_t>(i);
    else if (is_byte_token(t)) types[i] = 6;
    else scores[i] = -static_cast<float>(i);  // SPM merges prefer higher scores: earlier ids win ties
  }
  file.set("tokenizer.ggml.model", "llama");
  file.set("tokenizer.ggml.tokens", make_array(tokens));
  file.set("tokenizer.ggml.scores", make_array(scores));
  file.set("tokenizer.ggml.token_type", make_array(types));
  file.set("tokenizer.ggml.unknown_token_id", unk);
  file.set("tokenizer.ggml.bos_token_id", bos);
  file.set("tokenizer.ggml.eos_token_id", eos);
  file.set("tokenizer.ggml.add_bos_token", false);
  file.set("tokenizer.ggml.add_eos_token", false);
  file.set("tokenizer.ggml.add_space_prefix", false);
}

// The float rows of one HF parameter in GGUF layout: Q/K rows permuted to adjacent rope pairs,
// embedding/output rows padded with zeros up to the token count.
std::vector<float> gguf_rows(const std::string& hf_name, const autograd::Tensor& value, const layers::LlamaConfig& c,
                             uint64_t n_tokens, std::vector<uint64_t>& dims) {
  const autograd::Shape& shape = value.shape();
  std::vector<float> rows(value.data(), value.data() + value.numel());
  if (shape.ndim() == 1) {
    dims = {static_cast<uint64_t>(shape[0])};
    return rows;
  }
  const int64_t out = shape[0], in = shape[1];
  if (hf_name.find("self_attn.q_proj") != std::string::npos || hf_name.find("self_attn.k_proj") != std::string::npos) {
    const int64_t heads = hf_name.find("q_proj") != std::string::npos ? c.num_attention_heads : c.num_key_value_heads;
    std::vector<float> permuted(rows.size());
    permute_rope_rows(rows.data(), permuted.data(), out, in, heads);
    rows.swap(permuted);
  }
  uint64_t n_rows = static_cast<uint64_t>(out);
  if (hf_name == "model.embed_tokens.weight" || hf_name == "lm_head.weight") {
    n_rows = n_tokens;
    rows.resize(n_tokens * static_cast<uint64_t>(in), 0.0f);
  }
  dims = {static_cast<uint64_t>(in), n_rows};
  return rows;
}

std::vector<std::byte> encode(const std::vector<float>& rows, uint32_t type, uint64_t ne0, const float* importance) {
  const auto& block = fakequant::ggml::block_type(static_cast<int>(type));
  const int64_t k = static_cast<int64_t>(ne0);
  const int64_t bytes_per_row = fakequant::ggml::row_bytes(block, k);
  const int64_t n_rows = static_cast<int64_t>(rows.size() / ne0);
  std::vector<std::byte> bytes(static_cast<size_t>(n_rows * bytes_per_row));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n_rows; ++r)
    block.quantize_row(rows.data() + r * k, bytes.data() + r * bytes_per_row, k, importance);
  return bytes;
}

const float* importance_of(const LlamaExportOptions& options, const std::string& gguf_name, uint64_t ne0) {
  if (options.importance == nullptr) return nullptr;
  const auto it = options.importance->find(gguf_name);
  if (it == options.importance->end()) return nullptr;
  if (it->second.size() != ne0)
    throw std::invalid_argument("gguf llama export: importance for '" + gguf_name + "' has " +
                                std::to_string(it->second.size()) + " values, the tensor's rows have " +
                                std::to_string(ne0));
  return it->second.data();
}

uint32_t overridden_type(const LlamaExportOptions& options, const TensorInfo& info, uint32_t mixed) {
  const auto it = options.tensor_types.find(info.name);
  if (it == options.tensor_types.end()) return mixed;
  const auto& block = fakequant::ggml::block_type(static_cast<int>(it->second));
  if (info.dims[0] % static_cast<uint64_t>(block.block_elements) != 0)
    throw std::invalid_argument("gguf llama export: tensor '" + info.name + "' rows of " + std::to_string(info.dims[0]) +
                                " do not fill " + block.name + " blocks of " + std::to_string(block.block_elements));
  return it->second;
}

}  // namespace

LlamaGguf build_llama_gguf(const layers::LlamaForCausalLM& model, const std::vector<std::string>& vocabulary,
                           const LlamaExportOptions& options) {
  const LlamaFileType type = options.type;
  const std::string& name = options.name;
  const layers::LlamaConfig& c = model.config();
  if (static_cast<int64_t>(vocabulary.size()) != c.vocab_size)
    throw std::invalid_argument("gguf llama export: vocabulary has " + std::to_string(vocabulary.size()) +
                                " tokens, model vocab_size is " + std::to_string(c.vocab_size));
  const std::vector<std::string> tokens = llama_gguf_tokens(vocabulary);
  LlamaGguf out;
  add_metadata(out.file, c, type, name, tokens.size());
  add_vocabulary(out.file, tokens);
  const std::map<std::string, uint32_t> mix = llama_mix_types(model, type);
  for (const auto& [hf_name, param] : model.named_parameters()) {
    TensorInfo info;
    info.name = *gguf_tensor_name(hf_name);  // llama_mix_types checked that every parameter has one
    std::vector<float> rows = gguf_rows(hf_name, param.data(), c, tokens.size(), info.dims);
    info.type = overridden_type(options, info, mix.at(hf_name));
    const bool trained_type = options.tensor_types.count(info.name) > 0;  // no importance: see tensor_types
    out.tensor_bytes.push_back(
        encode(rows, info.type, info.dims[0], trained_type ? nullptr : importance_of(options, info.name, info.dims[0])));
    out.file.tensors.push_back(std::move(info));
  }
  return out;
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

LlamaGguf build_llama_gguf(const layers::LlamaForCausalLM& model, const std::vector<std::string>& vocabulary,
                           LlamaFileType type, const std::string& name) {
  LlamaExportOptions options;
  options.type = type;
  options.name = name;
  return build_llama_gguf(model, vocabulary, options);
}

void write_llama_gguf(const std::filesystem::path& path, const layers::LlamaForCausalLM& model,
                      const std::vector<std::string>& vocabulary, LlamaFileType type, const std::string& name) {
  LlamaExportOptions options;
  options.type = type;
  options.name = name;
  write_llama_gguf(path, model, vocabulary, options);
}

void write_llama_gguf(const std::filesystem::path& path, const layers::LlamaForCausalLM& model,
                      const std::vector<std::string>& vocabulary, const LlamaExportOptions& options) {
  const LlamaGguf gguf = build_llama_gguf(model, vocabulary, options);
  std::vector<std::span<const std::byte>> spans(gguf.tensor_bytes.begin(), gguf.tensor_bytes.end());
  write_gguf_file(path, gguf.file, spans);
}

}  // namespace qforge::exporters::gguf
