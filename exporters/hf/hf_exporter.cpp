// Hugging Face model folders out (hf_exporter.h). Key names and defaults: transformers'
// models/llama/configuration_llama.py (LlamaConfig), models/mistral/configuration_mistral.py,
// models/qwen2/configuration_qwen2.py; generation_config.json: generation/configuration_utils.py
// (GenerationConfig.from_model_config); shards and index: huggingface_hub's serialization/_base.py
// (split_state_dict_into_shards_factory, parse_size_to_int) as transformers' modeling_utils.py
// save_pretrained uses them (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, metadata {"format": "pt"}).
#include "exporters/hf/hf_exporter.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>

#include "exporters/hf/hf_model_reader.h"
#include "exporters/hf/hf_quant_export.h"
#include "exporters/hf/hf_tokenizer_export.h"
#include "exporters/safetensors/safetensors.h"
#include "fakequant/formats/ggml/block_types.h"
#include "io/atomic_file.h"

namespace qforge::exporters::hf {
namespace {

namespace fs = std::filesystem;
namespace st = exporters::safetensors;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kDefaultShardSize = "5GB";  // save_pretrained's max_shard_size default

struct DtypeChoice {
  st::Dtype dtype;
  const char* torch_name;  // config.json torch_dtype
};

DtypeChoice parse_dtype(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  if (text.empty() || text == "f32" || text == "float32") return {st::Dtype::kF32, "float32"};
  if (text == "f16" || text == "float16") return {st::Dtype::kF16, "float16"};
  if (text == "bf16" || text == "bfloat16") return {st::Dtype::kBF16, "bfloat16"};
  throw std::invalid_argument("export --format hf: --dtype '" + text + "' is not f32, f16 or bf16");
}

// The shortest decimal that reads back as the same float: config.json holds 1e-05, not
// 9.999999747378752e-06, and parse_hf_config's float cast returns the value the run used.
double shortest_float(float v) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(v));
    if (std::strtof(text, nullptr) == v) break;
  }
  return std::strtod(text, nullptr);
}

// LlamaForCausalLM unless the graph needs Qwen2 (q/k/v biases without o_proj's) or Mistral (a sliding
// window); combinations no architecture reads are refused naming the field.
std::string architecture_of(const layers::LlamaConfig& c) {
  const auto refuse = [](const std::string& what) -> std::string {
    throw std::invalid_argument("export --format hf: " + what + " (no Llama, Mistral or Qwen2 config.json expresses it)");
  };
  // llama.cpp's per-frequency divisors (a GGUF's rope_freqs.weight, docs/gguf.md §15) are no rope_type of
  // transformers' ROPE_INIT_FUNCTIONS that qforge reads back (linear, llama3), so they are not guessed into one.
  if (c.rope_scaling.type == layers::RopeScaling::Type::kFactors)
    refuse("rope scaling by per-frequency factors (a GGUF file's rope_freqs.weight)");
  if (c.qkv_bias && !c.attention_bias) {
    if (c.mlp_bias) refuse("q/k/v biases with mlp_bias");
    if (c.sliding_window > 0) refuse("q/k/v biases with a sliding window");
    return "Qwen2ForCausalLM";
  }
  if (c.sliding_window > 0) {
    if (c.attention_bias || c.mlp_bias) refuse("a sliding window with biases");
    return "MistralForCausalLM";
  }
  return "LlamaForCausalLM";
}

ordered_json rope_scaling_json(const layers::RopeScaling& r) {
  ordered_json j;
  if (r.type == layers::RopeScaling::Type::kLinear) {
    j["rope_type"] = "linear";
    j["factor"] = r.factor;
  } else {
    j["rope_type"] = "llama3";
    j["factor"] = r.factor;
    j["low_freq_factor"] = r.low_freq_factor;
    j["high_freq_factor"] = r.high_freq_factor;
    j["original_max_position_embeddings"] = r.original_max_position_embeddings;
  }
  return j;
}

struct SpecialTokens {
  int64_t bos = -1, eos = -1;  // -1: the vocabulary has none
};

// The ids the source states (an HF folder's config.json), else found by name: qforge vocabularies name
// them as SentencePiece does (exporters/gguf/llama_vocabulary.h: <s>, </s>).
SpecialTokens special_tokens(const LlamaExport& model) {
  SpecialTokens out;
  const std::vector<std::string>& vocabulary = model.vocabulary;
  for (size_t i = 0; i < vocabulary.size(); ++i) {
    if (vocabulary[i] == "<s>" && out.bos < 0) out.bos = static_cast<int64_t>(i);
    if (vocabulary[i] == "</s>" && out.eos < 0) out.eos = static_cast<int64_t>(i);
  }
  if (model.bos_token_id) out.bos = *model.bos_token_id;
  if (model.eos_token_id) out.eos = *model.eos_token_id;
  return out;
}

ordered_json config_json(const layers::LlamaConfig& c, const std::string& architecture, const char* torch_dtype,
                         const SpecialTokens& special) {
  static const std::map<std::string, std::string> kModelType = {
      {"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"}, {"Qwen2ForCausalLM", "qwen2"}};
  ordered_json j;
  j["architectures"] = {architecture};
  j["model_type"] = kModelType.at(architecture);
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  if (c.head_dim_override > 0) j["head_dim"] = c.head_dim_override;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = shortest_float(c.rms_norm_eps);
  j["rope_theta"] = shortest_float(c.rope_theta);
  j["rope_scaling"] = c.rope_scaling.type == layers::RopeScaling::Type::kNone ? ordered_json() : rope_scaling_json(c.rope_scaling);
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (architecture == "LlamaForCausalLM") {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = c.mlp_bias;
  }
  if (architecture == "MistralForCausalLM") j["sliding_window"] = c.sliding_window;
  if (architecture == "Qwen2ForCausalLM") j["use_sliding_window"] = false;
  if (special.bos >= 0) j["bos_token_id"] = special.bos;
  if (special.eos >= 0) j["eos_token_id"] = special.eos;
  j["torch_dtype"] = torch_dtype;
  return j;
}

ordered_json generation_config_json(const SpecialTokens& special) {
  ordered_json j;
  j["_from_model_config"] = true;  // GenerationConfig.from_model_config marks it so
  if (special.bos >= 0) j["bos_token_id"] = special.bos;
  if (special.eos >= 0) j["eos_token_id"] = special.eos;
  return j;
}

// One tensor of the files: a float tensor (converted to the file's dtype) or a packed one, as is.
struct WeightItem {
  std::string name;
  autograd::Tensor floats;
  const st::EncodedTensor* encoded = nullptr;
};

const std::vector<st::EncodedTensor>* find_packed(const QuantizedExport& quantized, const std::string& weight) {
  const auto it = quantized.packed.find(weight);
  return it == quantized.packed.end() ? nullptr : &it->second;
}

// The weights the run's forward uses, by HF name, in model order; a weight `quantized` packs is replaced
// by its packed tensors. A weight trained with a GGUF block type holds its latent values
// (model_export.h): it is written as that codec's dequantize(quantize(w)), row by row, which is what the
// trained forward computed.
std::vector<WeightItem> weights_of(const LlamaExport& model, const QuantizedExport* quantized) {
  std::map<std::string, autograd::Tensor> params;
  for (const auto& [name, p] : model.model->named_parameters()) params.emplace(name, p.data());
  std::vector<WeightItem> out;
  for (const ExpectedTensor& t : expected_tensors(model.model->config())) {
    if (const auto* packed = quantized ? find_packed(*quantized, t.name) : nullptr) {
      for (const st::EncodedTensor& e : *packed) out.push_back({e.name, {}, &e});
      continue;
    }
    const auto it = params.find(t.name);
    if (it == params.end()) throw std::logic_error("export --format hf: the model has no parameter '" + t.name + "'");
    autograd::Tensor value = it->second;
    if (const auto type = model.ggml_types.find(t.name); type != model.ggml_types.end()) {
      const auto& block = fakequant::ggml::block_type(static_cast<int>(type->second));
      autograd::Tensor decoded(value.shape());
      const int64_t cols = value.shape()[value.shape().ndim() - 1], rows = value.numel() / cols;
      for (int64_t r = 0; r < rows; ++r) fakequant::ggml::fake_quantize_row(block, value.data() + r * cols, decoded.data() + r * cols, cols);
      value = decoded;
    }
    out.push_back({t.name, value, nullptr});
  }
  return out;
}

using Shard = std::vector<size_t>;  // indices into the weight list

// huggingface_hub's split_state_dict_into_shards_factory: tensors in order; one larger than the limit
// gets a shard of its own, otherwise a new shard starts when the next tensor would pass the limit.
std::vector<Shard> split_into_shards(const std::vector<uint64_t>& sizes, uint64_t limit) {
  std::vector<Shard> shards;
  Shard current;
  uint64_t current_size = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] > limit) {
      shards.push_back({i});
      continue;
    }
    if (current_size + sizes[i] > limit && !current.empty()) {
      shards.push_back(std::move(current));
      current.clear();
      current_size = 0;
    }
    current.push_back(i);
    current_size += sizes[i];
  }
  if (!current.empty()) shards.push_back(std::move(current));
  return shards;
}

std::string shard_name(size_t index, size_t count) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}

// save_pretrained removes weight files of an earlier save that the new one does not reuse; so do we, so
// a stale index or shard never sits beside the new files.
void remove_stale_weights(const fs::path& dir, const std::vector<std::string>& written) {
  static const std::regex kWeightFile(R"(model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?)");
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, kWeightFile) && std::find(written.begin(), written.end(), name) == written.end())
      fs::remove(entry.path());
  }
}

// Writes the safetensors file(s) and, when sharded, the index; returns the file names written.
std::vector<std::string> write_weights(const fs::path& dir, const std::vector<WeightItem>& weights, st::Dtype dtype,
                                       uint64_t limit) {
  std::vector<uint64_t> sizes;
  for (const WeightItem& w : weights)
    sizes.push_back(w.encoded ? w.encoded->data.size() : static_cast<uint64_t>(w.floats.numel()) * st::dtype_bytes(dtype));
  const std::vector<Shard> shards = split_into_shards(sizes, limit);
  const st::Metadata metadata = {{"format", "pt"}};  // transformers' loader refuses files without it
  std::vector<std::string> written;
  ordered_json weight_map = ordered_json::object();
  uint64_t total = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string name = shards.size() == 1 ? "model.safetensors" : shard_name(s, shards.size());
    st::TensorRefs refs;
    st::EncodedTensors encoded;
    for (size_t i : shards[s]) {
      if (weights[i].encoded) encoded.emplace(weights[i].name, *weights[i].encoded);
      else refs[weights[i].name] = &weights[i].floats;
      weight_map[weights[i].name] = name;
      total += sizes[i];
    }
    st::write_safetensors_streamed(dir / name, refs, metadata, dtype, encoded);
    written.push_back(name);
  }
  if (shards.size() > 1) {
    ordered_json index;
    index["metadata"] = {{"total_size", total}};
    index["weight_map"] = weight_map;
    io::write_file_atomically(dir / "model.safetensors.index.json", index.dump(2) + "\n");
    written.push_back("model.safetensors.index.json");
  }
  return written;
}

}  // namespace

uint64_t parse_shard_size(const std::string& text) {
  static const std::regex kSize(R"(\s*(\d+)\s*([KMGT]i?B|B)?\s*)", std::regex::icase);
  std::smatch m;
  if (!std::regex_match(text, m, kSize))
    throw std::invalid_argument("export --format hf: --max-shard-size '" + text + "' is not a size such as 5GB, 500MB or 20000");
  std::string unit = m[2].str();
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::toupper(c); });
  const bool binary = unit.size() == 3;
  const uint64_t base = binary ? 1024 : 1000;
  const std::string prefixes = "KMGT";
  uint64_t scale = 1;
  if (!unit.empty() && unit != "B")
    for (size_t i = 0; i <= prefixes.find(unit[0]); ++i) scale *= base;
  const uint64_t value = std::stoull(m[1].str()) * scale;
  if (value == 0) throw std::invalid_argument("export --format hf: --max-shard-size '" + text + "' is zero");
  return value;
}

std::string export_hf(const ExportSource& source, const ExportOptions& options, const fs::path& out) {
  if (!source.model) throw std::logic_error("export --format hf: the source has no model");
  const LlamaExport& model = *source.model;
  const DtypeChoice dtype = parse_dtype(options.dtype);
  const uint64_t limit = parse_shard_size(options.max_shard_size.empty() ? kDefaultShardSize : options.max_shard_size);
  const layers::LlamaConfig& c = model.model->config();
  const std::string architecture = architecture_of(c);
  if (fs::exists(out) && !fs::is_directory(out))
    throw std::invalid_argument("export --format hf: " + out.string() + " exists and is not a folder");
  std::optional<QuantizedExport> quantized;
  if (!options.quant.empty()) quantized = quantize_for_hf(model, hf_quant_format(options.quant), dtype.torch_name);
  fs::create_directories(out);
  const std::vector<std::string> written = write_weights(out, weights_of(model, quantized ? &*quantized : nullptr), dtype.dtype, limit);
  const SpecialTokens special = special_tokens(model);
  ordered_json config = config_json(c, architecture, dtype.torch_name, special);
  if (quantized) config[std::string(hf_quant_format(options.quant).config_object)] = ordered_json::parse(quantized->config_json);
  io::write_file_atomically(out / "config.json", config.dump(2) + "\n");
  io::write_file_atomically(out / "generation_config.json", generation_config_json(special).dump(2) + "\n");
  remove_stale_weights(out, written);
  const std::string tokenizer = write_hf_tokenizer(model, out, c.max_position_embeddings);
  std::string line = "wrote " + out.string() + " (Hugging Face " + architecture + ", " +
                     (quantized ? options.quant + ": " + quantized->source + ", float tensors " : "") +
                     st::dtype_name(dtype.dtype) + ", " + std::to_string(written.size() > 1 ? written.size() - 1 : 1) +
                     " safetensors file(s), " + tokenizer + ")";
  if (quantized) {
    for (const std::string& note : quantized->notes) line += "\nnote: " + note;
  } else if (!model.notes.empty() || !model.ggml_types.empty()) {
    line += "; see the notes: quantized weights are written dequantized (--quant writes their codes)";
  }
  return line;
}

}  // namespace qforge::exporters::hf
