// LlamaForCausalLM -> GGUF: metadata (docs/gguf.md §2, §13), tensors in llama.cpp's layout (§3, §5), encoded
// with the type mix (llama_type_mix.h) and the vocabulary of llama_vocabulary.h or, for a byte-level BPE
// tokenizer, tokenizers/gguf_bpe.h (§14).
#include "exporters/gguf/llama_gguf_export.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_architecture.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/gguf/llama_vocabulary.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "fakequant/formats/ggml/block_types.h"
#include "layers/rope_frequencies.h"

namespace qforge::exporters::gguf {
namespace {

void add_metadata(GgufFile& file, const layers::LlamaConfig& c, const GgufArchitecture& arch, LlamaFileType type,
                  const std::string& name, uint64_t n_tokens) {
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  const std::string a = std::string(arch.name) + ".";  // llama-arch.cpp LLM_KV_NAMES: "%s.context_length", ...
  file.set("general.architecture", arch.name);
  file.set("general.name", name);
  file.set("general.file_type", llama_ftype_id(type));
  file.set("general.quantization_version", uint32_t{2});
  file.set(a + "vocab_size", u32(static_cast<int64_t>(n_tokens)));
  file.set(a + "context_length", u32(c.max_position_embeddings));
  file.set(a + "embedding_length", u32(c.hidden_size));
  file.set(a + "block_count", u32(c.num_hidden_layers));
  file.set(a + "feed_forward_length", u32(c.intermediate_size));
  file.set(a + "attention.head_count", u32(c.num_attention_heads));
  file.set(a + "attention.head_count_kv", u32(c.num_key_value_heads));
  file.set(a + "rope.dimension_count", u32(c.head_dim()));
  file.set(a + "rope.freq_base", c.rope_theta);
  file.set(a + "attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  // convert_hf_to_gguf.py (TextModel.set_gguf_parameters) writes HF's "linear" as these two keys;
  // llama.cpp's load_hparams reads freq_scale = 1 / factor (docs/gguf.md §15).
  if (c.rope_scaling.type == layers::RopeScaling::Type::kLinear) {
    file.set(a + "rope.scaling.type", std::string("linear"));
    file.set(a + "rope.scaling.factor", static_cast<float>(c.rope_scaling.factor));
  }
}

// rope_freqs.weight (F32, ne [head_dim/2], in every file type as llama-quantize keeps 1-D tensors) for llama3
// and per-frequency scaling: llama3's are computed as llama.cpp's converter does, a GGUF's factors are written
// back unchanged (docs/gguf.md §15). False when the model has neither.
bool add_rope_freqs(const layers::LlamaConfig& c, LlamaGguf& out) {
  std::vector<float> factors;
  if (c.rope_scaling.type == layers::RopeScaling::Type::kLlama3) factors = layers::llama3_rope_freq_factors(c);
  else if (c.rope_scaling.type == layers::RopeScaling::Type::kFactors) factors = c.rope_scaling.freq_factors;
  else return false;
  TensorInfo info;
  info.name = kRopeFreqsTensor;
  info.type = kGgmlF32;
  info.dims = {static_cast<uint64_t>(factors.size())};
  std::vector<std::byte> bytes(factors.size() * sizeof(float));
  std::memcpy(bytes.data(), factors.data(), bytes.size());
  out.tensor_bytes.push_back(std::move(bytes));
  out.file.tensors.push_back(std::move(info));
  return true;
}

// The float rows of one HF parameter in GGUF layout: Q/K rows permuted to adjacent rope pairs when the
// architecture rotates those (docs/gguf.md §5, §13), embedding/output rows padded with zeros up to the
// token count.
std::vector<float> gguf_rows(const std::string& hf_name, const autograd::Tensor& value, const layers::LlamaConfig& c,
                             bool adjacent_rope, uint64_t n_tokens, std::vector<uint64_t>& dims) {
  const autograd::Shape& shape = value.shape();
  std::vector<float> rows(value.data(), value.data() + value.numel());
  // A bias has one value per row (cols 1), and moves with its row.
  const int64_t out = shape[0], in = shape.ndim() == 1 ? 1 : shape[1];
  const bool q_or_k = hf_name.find("self_attn.q_proj") != std::string::npos || hf_name.find("self_attn.k_proj") != std::string::npos;
  if (adjacent_rope && q_or_k) {
    const int64_t heads = hf_name.find("q_proj") != std::string::npos ? c.num_attention_heads : c.num_key_value_heads;
    std::vector<float> permuted(rows.size());
    permute_rope_rows(rows.data(), permuted.data(), out, in, heads);
    rows.swap(permuted);
  }
  if (shape.ndim() == 1) {
    dims = {static_cast<uint64_t>(shape[0])};
    return rows;
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

// A trained tensor's importance (LlamaExportOptions::tensor_importance), or nullptr: unweighted.
const float* trained_importance(const LlamaExportOptions& options, const std::string& gguf_name, uint64_t ne0) {
  const auto it = options.tensor_importance.find(gguf_name);
  if (it == options.tensor_importance.end()) return nullptr;
  if (it->second.size() != ne0)
    throw std::invalid_argument("gguf llama export: trained importance for '" + gguf_name + "' has " +
                                std::to_string(it->second.size()) + " values, the tensor's rows have " + std::to_string(ne0));
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

// Already encoded rows (LlamaExportOptions::encoded) in the GGUF layout of gguf_rows: whole byte rows
// moved as gguf_rows moves float rows (the row order of `permuted` gives each GGUF row's HF row).
std::vector<std::byte> encoded_tensor(const std::string& hf_name, const fakequant::ggml::EncodedRows& e,
                                      const TensorInfo& info, uint32_t mixed, const layers::LlamaConfig& c,
                                      bool adjacent_rope) {
  if (e.ggml_type != mixed || static_cast<uint64_t>(e.cols) != info.dims[0] || static_cast<uint64_t>(e.rows) > info.dims[1])
    throw std::invalid_argument("gguf llama export: encoded '" + hf_name + "' (type " + std::to_string(e.ggml_type) + ", " +
                                std::to_string(e.rows) + " x " + std::to_string(e.cols) + ") does not fit the mix's type " +
                                std::to_string(mixed) + " and shape");
  autograd::Tensor row_index(autograd::Shape{e.rows, 1});  // HF row numbers, exact in float below 2^24
  for (int64_t r = 0; r < e.rows; ++r) row_index.data()[r] = static_cast<float>(r);
  std::vector<uint64_t> dims;
  const std::vector<float> row_of = gguf_rows(hf_name, row_index, c, adjacent_rope, static_cast<uint64_t>(e.rows), dims);
  const int64_t row_bytes = fakequant::ggml::row_bytes(fakequant::ggml::block_type(static_cast<int>(mixed)), e.cols);
  std::vector<std::byte> bytes = encode(std::vector<float>(info.dims[0] * (info.dims[1] - e.rows), 0.0f), mixed, info.dims[0], nullptr);
  bytes.insert(bytes.begin(), static_cast<size_t>(e.rows * row_bytes), std::byte{0});
  for (int64_t r = 0; r < e.rows; ++r) {
    const auto from = e.bytes.begin() + static_cast<int64_t>(row_of[r]) * row_bytes;
    std::copy(from, from + row_bytes, bytes.begin() + r * row_bytes);
  }
  return bytes;
}

}  // namespace

LlamaGguf build_llama_gguf(const layers::LlamaForCausalLM& model, const std::vector<std::string>& vocabulary,
                           const LlamaExportOptions& options) {
  const LlamaFileType type = options.type;
  const std::string& name = options.name;
  const layers::LlamaConfig& c = model.config();
  const GgufArchitecture& arch = gguf_architecture_for(c);
  LlamaGguf out;
  uint64_t n_tokens = 0;
  if (options.bpe != nullptr) {
    // A gpt2 vocabulary has every id the model or the tokenizer knows (docs/gguf.md §14).
    n_tokens = std::max<uint64_t>(static_cast<uint64_t>(c.vocab_size), options.bpe->size());
    add_metadata(out.file, c, arch, type, name, n_tokens);
    tokenizers::add_gpt2_vocabulary(out.file, *options.bpe, n_tokens, options.bos_token_id, options.eos_token_id);
  } else {
    if (static_cast<int64_t>(vocabulary.size()) != c.vocab_size)
      throw std::invalid_argument("gguf llama export: vocabulary has " + std::to_string(vocabulary.size()) +
                                  " tokens, model vocab_size is " + std::to_string(c.vocab_size));
    const std::vector<std::string> tokens = llama_gguf_tokens(vocabulary);
    n_tokens = tokens.size();
    add_metadata(out.file, c, arch, type, name, n_tokens);
    add_llama_vocabulary(out.file, tokens);
  }
  add_rope_freqs(c, out);  // first, where convert_hf_to_gguf.py puts its generated tensors
  const bool has_imatrix = options.importance != nullptr && !options.importance->empty();
  const std::map<std::string, uint32_t> mix = llama_mix_types(model, type, has_imatrix);
  for (const auto& [hf_name, param] : model.named_parameters()) {
    TensorInfo info;
    info.name = *gguf_tensor_name(hf_name);  // llama_mix_types checked that every parameter has one
    std::vector<float> rows = gguf_rows(hf_name, param.data(), c, arch.adjacent_rope, n_tokens, info.dims);
    info.type = overridden_type(options, info, mix.at(hf_name));
    const bool trained_type = options.tensor_types.count(info.name) > 0;  // no importance: see tensor_types
    if (options.encoded != nullptr && options.encoded->count(hf_name)) {
      out.tensor_bytes.push_back(encoded_tensor(hf_name, options.encoded->at(hf_name), info, info.type, c, arch.adjacent_rope));
    } else {
      const float* importance = trained_type ? trained_importance(options, info.name, info.dims[0])
                                             : importance_of(options, info.name, info.dims[0]);
      // Trained tensors hold the codes their forward used; the refusal is for rounding float weights.
      if (!trained_type) check_imatrix(type, info.name, info.type, importance, "gguf llama export");
      out.tensor_bytes.push_back(encode(rows, info.type, info.dims[0], importance));
    }
    out.file.tensors.push_back(std::move(info));
  }
  if (has_imatrix && options.imatrix_record) append_imatrix_record(out.file, *options.imatrix_record);
  return out;
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
