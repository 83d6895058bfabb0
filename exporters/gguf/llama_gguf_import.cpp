// GGUF -> LlamaForCausalLM (docs/gguf.md §2 metadata, §3 names/shapes, §5 rope permutation, §6 codecs).
#include "exporters/gguf/llama_gguf_import.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/hf/hf_model_reader.h"
#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/packed/packed_ggml.h"
#include "io/read_error.h"

namespace qforge::exporters::gguf {
namespace {

constexpr std::string_view kFormat = "gguf model";

// Errors in the shape of io/read_error.h: "gguf model: FILE: key K at byte N: what" (N = the key's pair),
// "... tensor 'T' at byte N: what" (N = its data), or without a byte for what the file lacks.
[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::invalid_argument(io::read_error(kFormat, source, "model", what));
}
[[noreturn]] void fail_key(const GgufReader& reader, const std::string& source, const std::string& key,
                           const std::string& what) {
  const std::optional<uint64_t> at = reader.key_offset(key);
  if (!at) throw std::invalid_argument(io::read_error(kFormat, source, "key " + key, what));
  throw std::invalid_argument(io::read_error(kFormat, source, "key " + key, *at, what));
}
[[noreturn]] void fail_tensor(const GgufReader& reader, const std::string& source, const std::string& name,
                              const std::string& what) {
  const std::string field = "tensor '" + io::printable(name) + "'";
  const std::optional<uint64_t> at = reader.tensor_offset(name);
  if (!at) throw std::invalid_argument(io::read_error(kFormat, source, field, what));
  throw std::invalid_argument(io::read_error(kFormat, source, field, *at, what));
}

uint32_t get_u32(const GgufReader& reader, const std::string& key, const std::string& source) {
  const Value* v = reader.file().find(key);
  if (!v) fail_key(reader, source, key, "missing");
  if (const auto* x = v->get_if<uint32_t>()) return *x;
  // Other integer types are read as llama.cpp does, but a value a u32 cannot hold is refused, not wrapped.
  if (const auto* x = v->get_if<int32_t>(); x && *x >= 0) return static_cast<uint32_t>(*x);
  if (const auto* x = v->get_if<uint64_t>(); x && *x <= UINT32_MAX) return static_cast<uint32_t>(*x);
  if (v->get_if<int32_t>() || v->get_if<uint64_t>()) fail_key(reader, source, key, "outside 0..2^32-1");
  fail_key(reader, source, key, "has type " + std::string(value_type_name(v->type())) + ", expected u32");
}

float get_f32(const GgufReader& reader, const std::string& key, float fallback, const std::string& source) {
  const Value* v = reader.file().find(key);
  if (!v) return fallback;
  if (const auto* x = v->get_if<float>()) return *x;
  fail_key(reader, source, key, "has type " + std::string(value_type_name(v->type())) + ", expected f32");
}

}  // namespace

const GgufArchitecture& read_gguf_architecture(const GgufReader& reader, const std::string& source) {
  const std::string key = "general.architecture";
  const Value* arch = reader.file().find(key);
  if (!arch) fail_key(reader, source, key, "missing (qforge reads " + gguf_architecture_names() + ")");
  const std::string* name = arch->get_if<std::string>();
  if (!name) fail_key(reader, source, key, "has type " + std::string(value_type_name(arch->type())) + ", expected string");
  const GgufArchitecture* found = find_gguf_architecture(*name);
  if (!found)
    fail_key(reader, source, key, "'" + io::printable(*name) + "' is not one qforge reads (" + gguf_architecture_names() + ")");
  return *found;
}

namespace {

// llama.cpp's linear scaling (llama-model.cpp load_hparams): <arch>.rope.scaling.type defaults to "linear",
// "none" never scales, and freq_scale = 1 / <arch>.rope.scaling.factor (or the older rope.scale_linear)
// when that is present and not 0. yarn and longrope change more than the frequencies: refused
// (docs/gguf.md §15).
layers::RopeScaling linear_scaling_from(const GgufReader& reader, const std::string& arch, const std::string& source) {
  const std::string type_key = arch + "rope.scaling.type";
  std::string type = "linear";
  if (const Value* v = reader.file().find(type_key)) {
    const std::string* name = v->get_if<std::string>();
    if (!name) fail_key(reader, source, type_key, "has type " + std::string(value_type_name(v->type())) + ", expected string");
    type = *name;
  }
  if (type == "none") return {};
  if (type != "linear")
    fail_key(reader, source, type_key, "'" + io::printable(type) + "' is not a rope scaling qforge reads (none, linear)");
  std::string factor_key = arch + "rope.scaling.factor";
  if (!reader.file().find(factor_key) && reader.file().find(arch + "rope.scale_linear")) factor_key = arch + "rope.scale_linear";
  const float factor = get_f32(reader, factor_key, 0.0f, source);
  if (factor == 0.0f || factor == 1.0f) return {};  // llama.cpp: freq_scale 1
  // transformers' linear rope_scaling (the HF form qforge's layers hold) requires factor >= 1.
  if (!(factor >= 1.0f) || !std::isfinite(factor))
    fail_key(reader, source, factor_key, std::to_string(factor) + " is not a linear rope factor >= 1 qforge reads");
  layers::RopeScaling r;
  r.type = layers::RopeScaling::Type::kLinear;
  r.factor = factor;
  return r;
}

// rope_freqs.weight: llama.cpp's per-frequency divisors (src/models/llama.cpp loads it as {n_rot/2}; ggml's
// rope asserts F32 and divides theta_i by value i). Not a parameter: RopeScaling::kFactors.
layers::RopeScaling rope_scaling_from(const GgufReader& reader, const layers::LlamaConfig& c, const std::string& source) {
  const GgufArchitecture& arch = read_gguf_architecture(reader, source);
  // llama-context.cpp multiplies every rope's cos and sin by rope.scaling.attn_factor (yarn_attn_factor *=
  // rope_attn_factor), i.e. q·k by its square: only 1 is the model qforge builds.
  const std::string attn_factor = std::string(arch.name) + ".rope.scaling.attn_factor";
  if (const float f = get_f32(reader, attn_factor, 1.0f, source); f != 1.0f)
    fail_key(reader, source, attn_factor, std::to_string(f) + " scales rope's cos and sin; qforge reads 1 only");
  const layers::RopeScaling linear = linear_scaling_from(reader, std::string(arch.name) + ".", source);
  const TensorInfo* info = reader.file().find_tensor(kRopeFreqsTensor);
  if (!info) return linear;
  const auto fail_freqs = [&](const std::string& what) { fail_tensor(reader, source, kRopeFreqsTensor, what); };
  if (!arch.rope_freqs) fail_freqs(std::string("is not read by llama.cpp's ") + arch.name + " graph");
  if (linear.type != layers::RopeScaling::Type::kNone)
    fail_freqs("comes with a linear rope factor " + std::to_string(linear.factor) + " as well; qforge holds one rope scaling");
  const uint64_t n = static_cast<uint64_t>(c.head_dim() / 2);
  if (info->type != kGgmlF32) fail_freqs("has ggml type " + std::to_string(info->type) + ", not F32 (ggml's rope reads F32)");
  if (info->dims.size() != 1 || info->dims[0] != n)
    fail_freqs("has " + std::to_string(info->dims.size()) + " dims, ne[0] " + std::to_string(info->dims.empty() ? 0 : info->dims[0]) +
               "; expected ne [" + std::to_string(n) + "] (head_dim / 2)");
  const std::span<const std::byte> bytes = reader.tensor_data(kRopeFreqsTensor);
  if (bytes.size() < n * sizeof(float)) fail_freqs("data too short");
  layers::RopeScaling r;
  r.type = layers::RopeScaling::Type::kFactors;
  r.freq_factors.resize(n);
  std::memcpy(r.freq_factors.data(), bytes.data(), n * sizeof(float));
  for (uint64_t i = 0; i < n; ++i)
    if (!std::isfinite(r.freq_factors[i]) || !(r.freq_factors[i] > 0.0f))
      fail_freqs("value " + std::to_string(i) + " is " + std::to_string(r.freq_factors[i]) + ", not a finite divisor > 0");
  return r;
}

// The llama.cpp hparams every supported architecture shares (llama-model.cpp load_hparams; keys
// "<arch>.context_length", ...: llama-arch.cpp LLM_KV_NAMES), docs/gguf.md §2 and §13.
layers::LlamaConfig config_from(const GgufReader& reader, const std::string& source) {
  const GgufFile& file = reader.file();
  const std::string arch = std::string(read_gguf_architecture(reader, source).name) + ".";
  const TensorInfo* embd = file.find_tensor("token_embd.weight");
  if (!embd || embd->dims.size() != 2) fail(source, "tensor token_embd.weight missing or not 2-D");
  layers::LlamaConfig c;
  c.vocab_size = static_cast<int64_t>(embd->dims[1]);
  c.hidden_size = get_u32(reader, arch + "embedding_length", source);
  c.num_hidden_layers = get_u32(reader, arch + "block_count", source);
  c.intermediate_size = get_u32(reader, arch + "feed_forward_length", source);
  c.num_attention_heads = get_u32(reader, arch + "attention.head_count", source);
  c.num_key_value_heads = file.find(arch + "attention.head_count_kv")
                              ? get_u32(reader, arch + "attention.head_count_kv", source)
                              : c.num_attention_heads;
  c.max_position_embeddings = get_u32(reader, arch + "context_length", source);
  c.rope_theta = get_f32(reader, arch + "rope.freq_base", 10000.0f, source);
  c.rms_norm_eps = get_f32(reader, arch + "attention.layer_norm_rms_epsilon", 1e-5f, source);
  c.tie_word_embeddings = file.find_tensor("output.weight") == nullptr;
  // llama.cpp loads q/k/v biases wherever present (create_tensor_qkv, TENSOR_NOT_REQUIRED).
  c.qkv_bias = file.find_tensor("blk.0.attn_q.bias") != nullptr || file.find_tensor("blk.0.attn_qkv.bias") != nullptr;
  try {
    c.validate();  // before head_dim(), which divides by the head count
  } catch (const std::invalid_argument& e) {
    fail(source, std::string("inconsistent ") + arch + "* metadata: " + e.what());
  }
  const std::string rope_dims = arch + "rope.dimension_count";
  if (file.find(rope_dims) && get_u32(reader, rope_dims, source) != static_cast<uint32_t>(c.head_dim()))
    fail_key(reader, source, rope_dims, "differs from embedding_length / head_count (partial rope unsupported)");
  c.rope_scaling = rope_scaling_from(reader, c, source);
  return c;
}

// The rows of q_proj, k_proj and v_proj: a fused attn_qkv tensor's row ranges, in this order (llama-model.cpp
// create_tensor_qkv: n_embd_q, n_embd_k_gqa, n_embd_v_gqa; docs/gguf.md §3).
std::array<int64_t, 3> qkv_rows(const layers::LlamaConfig& c) {
  return {c.num_attention_heads * c.head_dim(), c.num_key_value_heads * c.head_dim(), c.num_key_value_heads * c.head_dim()};
}

// The whole tensor dequantized in the file's layout ([rows, ne0] for matrices, [ne0] for vectors).
autograd::Tensor dequantized(const GgufReader& reader, const TensorInfo& info, const std::string& source) {
  const auto& block = [&]() -> const fakequant::ggml::BlockType& {
    try {
      return fakequant::ggml::decoder_type(static_cast<int>(info.type));
    } catch (const std::invalid_argument&) {
      const fakequant::ggml::BlockType* known = fakequant::ggml::find_type(static_cast<int>(info.type));
      fail_tensor(reader, source, info.name, "unsupported ggml type " + std::to_string(info.type) +
                                                 (known ? " (" + std::string(known->name) + ")" : "") +
                                                 "; qforge decodes " + fakequant::ggml::decoder_type_names());
    }
  }();
  if (info.dims.empty() || info.dims.size() > 2) fail_tensor(reader, source, info.name, "not 1-D or 2-D");
  const int64_t ne0 = static_cast<int64_t>(info.dims[0]);
  const int64_t rows = info.dims.size() == 2 ? static_cast<int64_t>(info.dims[1]) : 1;
  const auto bytes = reader.tensor_data(info.name);
  const int64_t row_size = fakequant::ggml::row_bytes(block, ne0);
  if (static_cast<int64_t>(bytes.size()) < row_size * rows) fail_tensor(reader, source, info.name, "data too short");
  autograd::Tensor t(info.dims.size() == 2 ? autograd::Shape{rows, ne0} : autograd::Shape{ne0});
  for (int64_t r = 0; r < rows; ++r) block.dequantize_row(bytes.data() + r * row_size, t.data() + r * ne0, ne0);
  return t;
}

// `t` (file layout) in HF layout: Q/K rows (and their biases, one value per row) un-permuted when the
// architecture rotates adjacent pairs (docs/gguf.md §5, §13).
autograd::Tensor hf_layout(autograd::Tensor t, const std::string& hf_name, const layers::LlamaConfig& c, bool adjacent_rope) {
  const bool is_q = hf_name.find(".q_proj.") != std::string::npos;
  const bool is_k = hf_name.find(".k_proj.") != std::string::npos;
  if (!adjacent_rope || !(is_q || is_k)) return t;
  autograd::Tensor back(t.shape());
  const bool bias = t.ndim() == 1;  // one value per output row
  const int64_t rows = t.shape()[0], cols = bias ? 1 : t.shape()[1];
  unpermute_rope_rows(t.data(), back.data(), rows, cols, is_q ? c.num_attention_heads : c.num_key_value_heads);
  return back;
}

// Rows [first, first + count) of a [rows, cols] or [rows] tensor.
autograd::Tensor row_range(const autograd::Tensor& t, int64_t first, int64_t count) {
  const int64_t cols = t.ndim() == 2 ? t.shape()[1] : 1;
  autograd::Tensor out(t.ndim() == 2 ? autograd::Shape{count, cols} : autograd::Shape{count});
  std::memcpy(out.data(), t.data() + first * cols, static_cast<size_t>(count * cols) * sizeof(float));
  return out;
}

// The tensor's HF parameters: itself, or a fused attn_qkv's q, k and v row ranges (docs/gguf.md §3).
void add_hf_tensors(std::map<std::string, autograd::Tensor>& state, const GgufReader& reader, const TensorInfo& info,
                    const layers::LlamaConfig& c, bool adjacent_rope, const std::string& source) {
  const autograd::Tensor t = dequantized(reader, info, source);
  const auto fused = fused_qkv_hf_names(info.name);
  if (!fused) {
    const std::string hf_name = *hf_tensor_name(info.name);
    state[hf_name] = hf_layout(t, hf_name, c, adjacent_rope);
    return;
  }
  const std::array<int64_t, 3> rows = qkv_rows(c);
  int64_t first = 0;
  for (size_t i = 0; i < rows.size(); first += rows[i++])
    state[(*fused)[i]] = hf_layout(row_range(t, first, rows[i]), (*fused)[i], c, adjacent_rope);
}

// A tensor's ne against the HF shape it must hold (ggml dims run fastest first: ne = the HF shape reversed).
void check_ne(const GgufReader& reader, const std::string& source, const TensorInfo& info, const std::vector<int64_t>& shape,
              const std::string& what) {
  bool same = info.dims.size() == shape.size();
  for (size_t d = 0; same && d < shape.size(); ++d) same = info.dims[d] == static_cast<uint64_t>(shape[shape.size() - 1 - d]);
  if (same) return;
  std::string dims;
  for (uint64_t d : info.dims) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  fail_tensor(reader, source, info.name, "has ne [" + dims + "], not what the " + what);
}

// A fused attn_qkv tensor: its parts must be parameters the keys describe, and it holds their rows one after
// the other. llama.cpp loads a fused bias only beside a fused weight (create_tensor_qkv), so a fused bias
// beside separate weights is refused as llama.cpp would fail on it (an unused tensor).
std::vector<std::string> check_fused(const GgufReader& reader, const std::string& source, const TensorInfo& info,
                                     const std::array<std::string, 3>& parts,
                                     const std::map<std::string, std::vector<int64_t>>& expected, const std::string& arch) {
  std::vector<int64_t> shape;
  for (const std::string& part : parts) {
    const auto it = expected.find(part);
    if (it == expected.end())
      fail_tensor(reader, source, info.name, "holds " + part + ", which is not part of the model the " + arch + ".* keys describe");
    if (shape.empty()) shape = it->second;
    else shape[0] += it->second[0];
  }
  check_ne(reader, source, info, shape, arch + ".* keys imply for " + parts[0] + ", k_proj and v_proj fused");
  const auto weight = fused_qkv_part(parts[0].substr(0, parts[0].rfind('.')) + ".weight");
  if (info.dims.size() == 1 && !reader.file().find_tensor(weight->gguf_name))
    fail_tensor(reader, source, info.name, "is a fused bias beside separate attn_q/k/v weights, which llama.cpp does not load");
  return {parts.begin(), parts.end()};
}

// The model's size comes from the <arch>.* metadata, so every tensor is checked against it before the model
// is built: a file claiming 3 million layers or a 10^8-wide FFN would otherwise allocate all of that
// before its first tensor was found missing. The layer count is bounded first (each layer has at least 7
// tensors, 9 unless q/k/v are fused), so even the list of expected names stays as small as the file.
void check_tensors_against_config(const GgufReader& reader, const layers::LlamaConfig& c, const std::string& source) {
  const GgufFile& file = reader.file();
  const std::string arch = read_gguf_architecture(reader, source).name;
  constexpr int64_t kTensorsPerLayer = 7;
  if (c.num_hidden_layers > static_cast<int64_t>(file.tensors.size()) / kTensorsPerLayer)
    fail_key(reader, source, arch + ".block_count",
             std::to_string(c.num_hidden_layers) + " layers need " + std::to_string(kTensorsPerLayer) +
                 " tensors each, but the file has " + std::to_string(file.tensors.size()) + " tensors in all");
  std::map<std::string, std::vector<int64_t>> expected;
  for (hf::ExpectedTensor& t : hf::expected_tensors(c)) expected.emplace(std::move(t.name), std::move(t.shape));
  std::map<std::string, std::string> found;  // HF name -> the GGUF tensor that holds it
  for (const TensorInfo& info : file.tensors) {
    if (info.name == kRopeFreqsTensor) continue;  // not a parameter (read by config_from)
    std::vector<std::string> holds;
    if (const auto fused = fused_qkv_hf_names(info.name)) {
      holds = check_fused(reader, source, info, *fused, expected, arch);
    } else {
      const auto hf_name = hf_tensor_name(info.name);
      if (!hf_name) fail_tensor(reader, source, info.name, "has no Llama counterpart (docs/gguf.md §3, §13)");
      const auto it = expected.find(*hf_name);
      if (it == expected.end())
        fail_tensor(reader, source, info.name, "is not part of the model the " + arch + ".* keys describe");
      check_ne(reader, source, info, it->second, arch + ".* keys imply for " + *hf_name);
      holds = {*hf_name};
    }
    for (const std::string& hf_name : holds)
      if (const auto [it, fresh] = found.emplace(hf_name, info.name); !fresh)
        fail_tensor(reader, source, info.name, "holds " + hf_name + ", which " + it->second + " holds as well");
  }
  if (found.size() != expected.size())  // every found name is expected, so some expected one is missing
    for (const auto& [hf_name, shape] : expected)
      if (!found.count(hf_name))
        fail(source, "tensor " + *gguf_tensor_name(hf_name) + " missing (" + std::to_string(expected.size()) +
                         " parameters expected from the " + arch + ".* keys, the file has " + std::to_string(file.tensors.size()) +
                         " tensors)");
}

}  // namespace

ImportedLlama read_llama_gguf(const GgufReader& reader, const std::string& source) {
  const GgufFile& file = reader.file();
  const layers::LlamaConfig config = config_from(reader, source);
  check_tensors_against_config(reader, config, source);
  const bool adjacent = read_gguf_architecture(reader, source).adjacent_rope;
  ImportedLlama out;
  try {
    out.model = std::make_shared<layers::LlamaForCausalLM>(config);
  } catch (const std::invalid_argument& e) {
    fail(source, std::string("inconsistent metadata: ") + e.what());
  }
  std::map<std::string, autograd::Tensor> state;
  for (const TensorInfo& info : file.tensors)
    if (info.name != kRopeFreqsTensor) add_hf_tensors(state, reader, info, config, adjacent, source);
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
  std::string name = gguf_tensor_name(hf_weight).value();
  int64_t first_row = 0, rows = -1;  // the projection's rows in the file's tensor (-1: all of them)
  const auto fused = fused_qkv_part(hf_weight);
  if (!reader.file().find_tensor(name) && fused && reader.file().find_tensor(fused->gguf_name)) {
    // A fused attn_qkv holds q, k and v as row ranges: each row is its own blocks (docs/gguf.md §1, §3).
    const std::array<int64_t, 3> parts = qkv_rows(config);
    for (int i = 0; i < fused->index; ++i) first_row += parts[i];
    rows = parts[fused->index];
    name = fused->gguf_name;
  }
  const TensorInfo* info = reader.file().find_tensor(name);
  if (!info || info->dims.size() != 2) throw std::invalid_argument("lora.base: " + source + " has no 2-D tensor " + name);
  const auto& type = fakequant::ggml::block_type(static_cast<int>(info->type));
  const int64_t cols = static_cast<int64_t>(info->dims[0]);
  if (rows < 0) rows = static_cast<int64_t>(info->dims[1]);
  if (first_row + rows > static_cast<int64_t>(info->dims[1]))
    throw std::invalid_argument("lora.base: " + source + ": tensor " + name + " has " + std::to_string(info->dims[1]) +
                                " rows, fewer than the " + std::to_string(first_row + rows) + " the keys imply");
  const int64_t row_bytes = fakequant::ggml::row_bytes(type, cols);
  const std::span<const std::byte> data = reader.tensor_data(name);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  // Q and K rows were permuted for llama.cpp's adjacent-pair rope (docs/gguf.md §5). The row map comes
  // from un-permuting the row indices themselves.
  // Only for architectures with adjacent rope pairs (docs/gguf.md §13: qwen2 keeps HF's order).
  const bool is_q = hf_weight.find("q_proj") != std::string::npos, is_k = hf_weight.find("k_proj") != std::string::npos;
  std::vector<float> source_row(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) source_row[r] = static_cast<float>(r);
  if ((is_q || is_k) && read_gguf_architecture(reader, source).adjacent_rope) {
    std::vector<float> index(source_row);
    unpermute_rope_rows(index.data(), source_row.data(), rows, 1,
                        is_q ? config.num_attention_heads : config.num_key_value_heads);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t from = first_row + static_cast<int64_t>(source_row[r]);
    std::memcpy(bytes.data() + r * row_bytes, data.data() + from * row_bytes, static_cast<size_t>(row_bytes));
  }
  return fakequant::wrap_ggml_weight(type, std::move(bytes), rows, cols);
}

}  // namespace qforge::exporters::gguf
