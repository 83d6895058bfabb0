// GGUF -> LlamaForCausalLM (docs/gguf.md §2 metadata, §3 names/shapes, §5 rope permutation, §6 codecs).
#include "exporters/gguf/llama_gguf_import.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>

#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/hf/hf_model_reader.h"
#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/packed/packed_ggml.h"

namespace qforge::exporters::gguf {
namespace {

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::invalid_argument("gguf llama import '" + source + "': " + what);
}

uint32_t get_u32(const GgufFile& file, const std::string& key, const std::string& source) {
  const Value* v = file.find(key);
  if (!v) fail(source, "missing key " + key);
  if (const auto* x = v->get_if<uint32_t>()) return *x;
  // Other integer types are read as llama.cpp does, but a value a u32 cannot hold is refused, not wrapped.
  if (const auto* x = v->get_if<int32_t>(); x && *x >= 0) return static_cast<uint32_t>(*x);
  if (const auto* x = v->get_if<uint64_t>(); x && *x <= UINT32_MAX) return static_cast<uint32_t>(*x);
  if (v->get_if<int32_t>() || v->get_if<uint64_t>()) fail(source, "key " + key + " is outside 0..2^32-1");
  fail(source, "key " + key + " has type " + std::string(value_type_name(v->type())) + ", expected u32");
}

float get_f32(const GgufFile& file, const std::string& key, float fallback, const std::string& source) {
  const Value* v = file.find(key);
  if (!v) return fallback;
  if (const auto* x = v->get_if<float>()) return *x;
  fail(source, "key " + key + " has type " + std::string(value_type_name(v->type())) + ", expected f32");
}

layers::LlamaConfig config_from(const GgufFile& file, const std::string& source) {
  const Value* arch = file.find("general.architecture");
  if (!arch || !arch->get_if<std::string>() || arch->get<std::string>() != "llama")
    fail(source, "general.architecture is not \"llama\"");
  const TensorInfo* embd = file.find_tensor("token_embd.weight");
  if (!embd || embd->dims.size() != 2) fail(source, "tensor token_embd.weight missing or not 2-D");
  layers::LlamaConfig c;
  c.vocab_size = static_cast<int64_t>(embd->dims[1]);
  c.hidden_size = get_u32(file, "llama.embedding_length", source);
  c.num_hidden_layers = get_u32(file, "llama.block_count", source);
  c.intermediate_size = get_u32(file, "llama.feed_forward_length", source);
  c.num_attention_heads = get_u32(file, "llama.attention.head_count", source);
  c.num_key_value_heads = file.find("llama.attention.head_count_kv")
                              ? get_u32(file, "llama.attention.head_count_kv", source)
                              : c.num_attention_heads;
  c.max_position_embeddings = get_u32(file, "llama.context_length", source);
  c.rope_theta = get_f32(file, "llama.rope.freq_base", 10000.0f, source);
  c.rms_norm_eps = get_f32(file, "llama.attention.layer_norm_rms_epsilon", 1e-5f, source);
  c.tie_word_embeddings = file.find_tensor("output.weight") == nullptr;
  try {
    c.validate();  // before head_dim(), which divides by the head count
  } catch (const std::invalid_argument& e) {
    fail(source, std::string("inconsistent llama metadata: ") + e.what());
  }
  if (file.find("llama.rope.dimension_count") &&
      get_u32(file, "llama.rope.dimension_count", source) != static_cast<uint32_t>(c.head_dim()))
    fail(source, "llama.rope.dimension_count differs from embedding_length / head_count (partial rope unsupported)");
  return c;
}

// Dequantized tensor in HF layout ([out, in] for matrices), Q/K rows un-permuted.
autograd::Tensor hf_tensor(const GgufReader& reader, const TensorInfo& info, const layers::LlamaConfig& c,
                           const std::string& source) {
  const auto& block = [&]() -> const fakequant::ggml::BlockType& {
    try {
      return fakequant::ggml::decoder_type(static_cast<int>(info.type));
    } catch (const std::invalid_argument&) {
      const fakequant::ggml::BlockType* known = fakequant::ggml::find_type(static_cast<int>(info.type));
      fail(source, "tensor " + info.name + " has unsupported ggml type " + std::to_string(info.type) +
                       (known ? " (" + std::string(known->name) + ")" : "") +
                       "; qforge decodes " + fakequant::ggml::decoder_type_names());
    }
  }();
  if (info.dims.empty() || info.dims.size() > 2) fail(source, "tensor " + info.name + " is not 1-D or 2-D");
  const int64_t ne0 = static_cast<int64_t>(info.dims[0]);
  const int64_t rows = info.dims.size() == 2 ? static_cast<int64_t>(info.dims[1]) : 1;
  const auto bytes = reader.tensor_data(info.name);
  const int64_t row_size = fakequant::ggml::row_bytes(block, ne0);
  if (static_cast<int64_t>(bytes.size()) < row_size * rows) fail(source, "tensor " + info.name + " data too short");
  autograd::Tensor t(info.dims.size() == 2 ? autograd::Shape{rows, ne0} : autograd::Shape{ne0});
  for (int64_t r = 0; r < rows; ++r) block.dequantize_row(bytes.data() + r * row_size, t.data() + r * ne0, ne0);
  const bool is_q = info.name.find(".attn_q.") != std::string::npos;
  const bool is_k = info.name.find(".attn_k.") != std::string::npos;
  if (is_q || is_k) {
    autograd::Tensor back(t.shape());
    unpermute_rope_rows(t.data(), back.data(), rows, ne0, is_q ? c.num_attention_heads : c.num_key_value_heads);
    return back;
  }
  return t;
}

// The model's size comes from the llama.* metadata, so every tensor is checked against it before the model
// is built: a file claiming 3 million layers or a 10^8-wide FFN would otherwise allocate all of that
// before its first tensor was found missing. The layer count is bounded first (each layer has 9
// tensors), so even the list of expected names stays as small as the file.
void check_tensors_against_config(const GgufFile& file, const layers::LlamaConfig& c, const std::string& source) {
  constexpr int64_t kTensorsPerLayer = 9;
  if (c.num_hidden_layers > static_cast<int64_t>(file.tensors.size()) / kTensorsPerLayer)
    fail(source, "llama.block_count " + std::to_string(c.num_hidden_layers) + " needs " + std::to_string(kTensorsPerLayer) +
                     " tensors per layer, but the file has " + std::to_string(file.tensors.size()) + " tensors in all");
  std::map<std::string, std::vector<int64_t>> expected;
  for (hf::ExpectedTensor& t : hf::expected_tensors(c)) expected.emplace(std::move(t.name), std::move(t.shape));
  for (const TensorInfo& info : file.tensors) {
    const auto hf_name = hf_tensor_name(info.name);
    if (!hf_name) fail(source, "tensor " + info.name + " has no Llama counterpart");
    const auto it = expected.find(*hf_name);
    if (it == expected.end()) fail(source, "tensor " + info.name + " is not part of the model the llama.* keys describe");
    // ggml dims run fastest first: ne = the HF shape reversed.
    const std::vector<int64_t>& shape = it->second;
    bool same = info.dims.size() == shape.size();
    for (size_t d = 0; same && d < shape.size(); ++d) same = info.dims[d] == static_cast<uint64_t>(shape[shape.size() - 1 - d]);
    if (!same) {
      std::string dims;
      for (uint64_t d : info.dims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
      fail(source, "tensor " + info.name + " has ne [" + dims + "], not what the llama.* keys imply for " + *hf_name);
    }
  }
  if (file.tensors.size() != expected.size())  // names are unique, so every expected one is present
    fail(source, std::to_string(expected.size()) + " tensors expected from the llama.* keys, the file has " +
                     std::to_string(file.tensors.size()));
}

}  // namespace

ImportedLlama read_llama_gguf(const GgufReader& reader, const std::string& source) {
  const GgufFile& file = reader.file();
  const layers::LlamaConfig config = config_from(file, source);
  check_tensors_against_config(file, config, source);
  ImportedLlama out;
  try {
    out.model = std::make_shared<layers::LlamaForCausalLM>(config);
  } catch (const std::invalid_argument& e) {
    fail(source, std::string("inconsistent llama metadata: ") + e.what());
  }
  std::map<std::string, autograd::Tensor> state;
  for (const TensorInfo& info : file.tensors) {
    const auto hf = hf_tensor_name(info.name);
    if (!hf) fail(source, "tensor " + info.name + " has no Llama counterpart");
    state[*hf] = hf_tensor(reader, info, config, source);
  }
  try {
    out.model->load_state_dict(state, /*strict=*/true);
  } catch (const std::invalid_argument& e) {
    fail(source, e.what());
  }
  if (const Value* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->get_if<Array>())
    for (const Value& t : tokens->get<Array>().elements)
      if (const auto* s = t.get_if<std::string>()) out.tokens.push_back(*s);
  return out;
}

ImportedLlama read_llama_gguf(const std::filesystem::path& path) {
  GgufReader reader(path);
  return read_llama_gguf(reader, path.string());
}

autograd::PackedWeightPtr read_llama_gguf_blocks(const GgufReader& reader, const std::string& hf_weight,
                                                 const layers::LlamaConfig& config, const std::string& source) {
  const std::string name = gguf_tensor_name(hf_weight).value();
  const TensorInfo* info = reader.file().find_tensor(name);
  if (!info || info->dims.size() != 2) throw std::invalid_argument("lora.base: " + source + " has no 2-D tensor " + name);
  const auto& type = fakequant::ggml::block_type(static_cast<int>(info->type));
  const int64_t cols = static_cast<int64_t>(info->dims[0]), rows = static_cast<int64_t>(info->dims[1]);
  const int64_t row_bytes = fakequant::ggml::row_bytes(type, cols);
  const std::span<const std::byte> data = reader.tensor_data(name);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  // Q and K rows were permuted for llama.cpp's adjacent-pair rope (docs/gguf.md §5). The row map comes
  // from un-permuting the row indices themselves.
  const bool is_q = hf_weight.find("q_proj") != std::string::npos, is_k = hf_weight.find("k_proj") != std::string::npos;
  std::vector<float> source_row(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) source_row[r] = static_cast<float>(r);
  if (is_q || is_k) {
    std::vector<float> index(source_row);
    unpermute_rope_rows(index.data(), source_row.data(), rows, 1,
                        is_q ? config.num_attention_heads : config.num_key_value_heads);
  }
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(bytes.data() + r * row_bytes, data.data() + static_cast<int64_t>(source_row[r]) * row_bytes,
                static_cast<size_t>(row_bytes));
  }
  return fakequant::wrap_ggml_weight(type, std::move(bytes), rows, cols);
}

}  // namespace qforge::exporters::gguf
