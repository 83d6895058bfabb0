// LoRA adapter GGUF writer and reader (gguf_lora_adapter.h; docs/gguf.md §10).
#include "exporters/lora/gguf_lora_adapter.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/gguf_architecture.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "fakequant/formats/ggml/block_types.h"
#include "io/read_error.h"

namespace qforge::exporters::lora {
namespace {

namespace gg = qforge::exporters::gguf;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw std::invalid_argument("gguf lora adapter: " + path.string() + ": " + what);
}

// A tensor's error names the byte its data starts at (io/read_error.h): "gguf lora adapter: FILE: tensor 'x'
// at byte N: what".
[[noreturn]] void fail_tensor(const gg::GgufReader& reader, const gg::TensorInfo& info, const std::filesystem::path& path,
                              const std::string& what) {
  throw std::invalid_argument(io::read_error("gguf lora adapter", path.string(), "tensor '" + io::printable(info.name) + "'",
                                             reader.data_start() + info.offset, what));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Head count for the rope row permutation of a GGUF base tensor; 0 when it is not attn_q / attn_k.
int64_t rope_heads(const std::string& gguf_base, const layers::LlamaConfig& base) {
  if (gguf_base.find(".attn_q.") != std::string::npos) return base.num_attention_heads;
  if (gguf_base.find(".attn_k.") != std::string::npos) return base.num_key_value_heads;
  return 0;
}

std::span<const std::byte> bytes_of(const autograd::Tensor& t) {
  return {reinterpret_cast<const std::byte*>(t.data()), static_cast<size_t>(t.numel()) * sizeof(float)};
}

}  // namespace

void write_gguf_lora_adapter(const std::filesystem::path& path, const NamedTensors& lora,
                             const LoraAdapterConfig& config, const layers::LlamaConfig& base) {
  const std::vector<LoraPair> pairs = lora_pairs(lora, config.r, "gguf lora adapter '" + path.string() + "'");
  gg::GgufFile file;
  file.set("general.type", "adapter");
  // The base's architecture (llama.cpp refuses an adapter of another one); only "llama" permutes q/k rows.
  const gg::GgufArchitecture& arch = gg::gguf_architecture_with_qkv_bias(base.qkv_bias);
  file.set("general.architecture", arch.name);
  file.set("adapter.type", "lora");
  // llama.cpp scales by alpha / r; alpha · sqrt(r) / r = alpha / sqrt(r) reproduces rsLoRA (§10).
  const double alpha = config.use_rslora ? config.lora_alpha * std::sqrt(static_cast<double>(config.r)) : config.lora_alpha;
  file.set("adapter.lora.alpha", static_cast<float>(alpha));
  std::vector<autograd::Tensor> permuted;  // keeps the permuted lora_b data alive until written
  permuted.reserve(pairs.size());
  std::vector<std::span<const std::byte>> data;
  for (const LoraPair& p : pairs) {
    const auto gguf_base = gg::gguf_tensor_name(p.module + ".weight");
    if (!gguf_base) fail(path, "tensor '" + p.module + kLoraASuffix + "': module has no GGUF tensor name");
    if (*gguf_base == "token_embd.weight") fail(path, "tensor '" + p.module + kLoraASuffix + "': embedding LoRA is not supported");
    const int64_t in = p.a->shape()[1], r = p.a->shape()[0], out = p.b->shape()[0];
    file.tensors.push_back({*gguf_base + ".lora_a", {static_cast<uint64_t>(in), static_cast<uint64_t>(r)}, gg::kGgmlF32, 0});
    file.tensors.push_back({*gguf_base + ".lora_b", {static_cast<uint64_t>(r), static_cast<uint64_t>(out)}, gg::kGgmlF32, 0});
    data.push_back(bytes_of(*p.a));
    if (const int64_t heads = arch.adjacent_rope ? rope_heads(*gguf_base, base) : 0) {
      permuted.emplace_back(p.b->shape());
      gg::permute_rope_rows(p.b->data(), permuted.back().data(), out, r, heads);
      data.push_back(bytes_of(permuted.back()));
    } else {
      data.push_back(bytes_of(*p.b));
    }
  }
  gg::write_gguf_file(path, file, data);
}

namespace {

std::string expect_string(const gg::GgufFile& file, const std::string& key, const std::string& expected,
                          const std::filesystem::path& path) {
  const gg::Value* v = file.find(key);
  const std::string* s = v ? v->get_if<std::string>() : nullptr;
  if (!s || *s != expected) fail(path, "key " + key + " is " + (s ? "\"" + *s + "\"" : "missing or not a string") + ", expected \"" + expected + "\"");
  return *s;
}

// A GGUF tensor as FP32 rows [ne1, ne0] (HF row-major), decoded with the ggml codecs.
autograd::Tensor decode_tensor(const gg::GgufReader& reader, const gg::TensorInfo& info, const std::filesystem::path& path) {
  if (info.dims.size() != 2) fail_tensor(reader, info, path, "is not 2-D");
  // With a zero dim the GGUF holds no data for any number of rows: 2^40 empty rows would be decoded one
  // by one. Non-zero dims are bounded by the file (the reader checked the data is there).
  if (info.dims[0] == 0 || info.dims[1] == 0) fail_tensor(reader, info, path, "has an empty dimension");
  const fakequant::ggml::BlockType* known = fakequant::ggml::find_type(static_cast<int>(info.type));
  if (known == nullptr || !known->has_decoder())
    fail_tensor(reader, info, path, "has ggml type " + std::to_string(info.type) + ", which qforge cannot decode (" +
                                        fakequant::ggml::decoder_type_names() + ")");
  const auto& block = *known;
  const int64_t ne0 = static_cast<int64_t>(info.dims[0]), rows = static_cast<int64_t>(info.dims[1]);
  const int64_t row_size = fakequant::ggml::row_bytes(block, ne0);
  const auto bytes = reader.tensor_data(info.name);
  if (static_cast<int64_t>(bytes.size()) < row_size * rows) fail_tensor(reader, info, path, "data too short");
  autograd::Tensor t(autograd::Shape{rows, ne0});
  for (int64_t i = 0; i < rows; ++i) block.dequantize_row(bytes.data() + i * row_size, t.data() + i * ne0, ne0);
  return t;
}

}  // namespace

LoraAdapter read_gguf_lora_adapter(const std::filesystem::path& path, const layers::LlamaConfig& base) {
  const gg::GgufReader reader(path);
  const gg::GgufFile& file = reader.file();
  expect_string(file, "general.type", "adapter", path);
  const gg::GgufArchitecture& arch = gg::gguf_architecture_with_qkv_bias(base.qkv_bias);
  expect_string(file, "general.architecture", arch.name, path);
  expect_string(file, "adapter.type", "lora", path);
  LoraAdapter out;
  for (const gg::TensorInfo& info : file.tensors) {
    if (ends_with(info.name, "_norm.weight")) continue;  // llama.cpp ignores these
    const bool is_a = ends_with(info.name, ".lora_a"), is_b = ends_with(info.name, ".lora_b");
    if (!is_a && !is_b) fail_tensor(reader, info, path, "is neither .lora_a nor .lora_b");
    const std::string gguf_base = info.name.substr(0, info.name.size() - 7);
    const auto hf = gg::hf_tensor_name(gguf_base);
    if (!hf || !ends_with(*hf, ".weight") || gguf_base == "token_embd.weight")
      fail_tensor(reader, info, path, "base tensor " + gguf_base + " is not a supported Llama matrix");
    autograd::Tensor t = decode_tensor(reader, info, path);
    const int64_t heads = arch.adjacent_rope ? rope_heads(gguf_base, base) : 0;
    // lora_b's rows are the base's q or k rows, whose head layout the un-permutation needs.
    if (is_b && heads && t.shape()[0] != heads * base.head_dim())
      fail_tensor(reader, info, path, "has " + std::to_string(t.shape()[0]) + " rows, the base's " + gguf_base + " has " +
                                          std::to_string(heads * base.head_dim()));
    if (is_b && heads) {
      autograd::Tensor back(t.shape());
      gg::unpermute_rope_rows(t.data(), back.data(), t.shape()[0], t.shape()[1], heads);
      t = back;
    }
    const std::string module = hf->substr(0, hf->size() - 7);
    out.tensors.emplace(module + (is_a ? kLoraASuffix : kLoraBSuffix), std::move(t));
  }
  const std::vector<LoraPair> pairs = lora_pairs(out.tensors, 0, "gguf lora adapter: " + path.string());
  if (pairs.empty()) fail(path, "no LoRA tensors");
  out.config.r = pairs.front().b->shape()[1];
  const gg::Value* alpha = file.find("adapter.lora.alpha");
  const float* a = alpha ? alpha->get_if<float>() : nullptr;
  if (alpha && !a) fail(path, "key adapter.lora.alpha is not f32");
  // llama.cpp: alpha 0 or missing -> scale = user scale (docs/gguf.md §10), i.e. alpha / r = 1.
  out.config.lora_alpha = (a && *a != 0.0f) ? static_cast<double>(*a) : static_cast<double>(out.config.r);
  for (const LoraPair& p : pairs) {
    const std::string suffix = module_suffix(p.module);
    if (std::find(out.config.target_modules.begin(), out.config.target_modules.end(), suffix) == out.config.target_modules.end())
      out.config.target_modules.push_back(suffix);
  }
  return out;
}

}  // namespace qforge::exporters::lora
