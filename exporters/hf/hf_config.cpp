// config.json -> LlamaConfig (hf_config.h). Field meanings and defaults: transformers'
// models/llama/configuration_llama.py (LlamaConfig), models/mistral/configuration_mistral.py and
// models/qwen2/configuration_qwen2.py; rope_scaling: modeling_rope_utils.py (ROPE_INIT_FUNCTIONS,
// _validate_linear_scaling_rope_parameters, _validate_llama3_parameters).
#include "exporters/hf/hf_config.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "exporters/hf/hf_quant_import.h"
#include "io/read_error.h"

namespace qforge::exporters::hf {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& what) {
  throw std::runtime_error("hf: " + source + ": key '" + key + "': " + what);
}

// Keys that never change the forward pass: ids of special tokens, bookkeeping, the storage dtype
// (tensors carry their own), training-only settings (dropout is off at inference; pretraining_tp only
// splits the same matmuls) and the initializer.
const std::set<std::string> kInertKeys = {
    "architectures", "model_type", "_name_or_path", "bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype",
    "dtype", "transformers_version", "use_cache", "initializer_range", "attention_dropout", "pretraining_tp",
    "tokenizer_class", "output_attentions", "output_hidden_states", "return_dict"};

// The keys of one object, each read at most once; what is left unread is refused.
class Keys {
 public:
  Keys(const json& j, std::string source, std::string prefix) : j_(j), source_(std::move(source)), prefix_(std::move(prefix)) {}
  const json* find(const std::string& key) {
    used_.insert(key);
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  int64_t integer(const std::string& key, const int64_t* fallback = nullptr) {
    const json* v = find(key);
    if (v == nullptr) {
      if (fallback == nullptr) fail(source_, prefix_ + key, "missing (required)");
      return *fallback;
    }
    if (!v->is_number_integer()) fail(source_, prefix_ + key, "is " + v->dump() + ", not an integer");
    return v->get<int64_t>();
  }
  double number(const std::string& key, double fallback, bool required = false) {
    const json* v = find(key);
    if (v == nullptr) {
      if (required) fail(source_, prefix_ + key, "missing (required)");
      return fallback;
    }
    if (!v->is_number()) fail(source_, prefix_ + key, "is " + v->dump() + ", not a number");
    return v->get<double>();
  }
  bool boolean(const std::string& key, bool fallback) {
    const json* v = find(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(source_, prefix_ + key, "is " + v->dump() + ", not true/false");
    return v->get<bool>();
  }
  void refuse_unread(const std::set<std::string>& inert, const std::string& what) const {
    for (const auto& [key, value] : j_.items()) {
      if (used_.count(key) == 0 && inert.count(key) == 0)
        fail(source_, prefix_ + key, "is not supported by qforge's " + what + " reader (it may change the model's math)");
    }
  }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string source_, prefix_;
  std::set<std::string> used_;
};

std::string architecture_of(Keys& keys, const std::string& source) {
  const json* a = keys.find("architectures");
  if (a == nullptr || !a->is_array() || a->size() != 1 || !(*a)[0].is_string())
    fail(source, "architectures", "must be a list of one name (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
  const std::string name = (*a)[0].get<std::string>();
  static const std::map<std::string, std::string> kModelType = {
      {"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"}, {"Qwen2ForCausalLM", "qwen2"}};
  const auto it = kModelType.find(name);
  if (it == kModelType.end())
    fail(source, "architectures", "'" + name + "' is not supported (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)");
  const json* type = keys.find("model_type");
  if (type != nullptr && (!type->is_string() || type->get<std::string>() != it->second))
    fail(source, "model_type", type->dump() + " does not match architecture " + name + " (\"" + it->second + "\")");
  return name;
}

// rope_scaling: {"rope_type" (or the older "type"): "linear" | "llama3" | "default", ...}.
layers::RopeScaling rope_scaling_of(const json& j, const std::string& source) {
  if (!j.is_object()) fail(source, "rope_scaling", "is " + j.dump() + ", not an object");
  Keys keys(j, source, "rope_scaling.");
  const json* type = keys.find("rope_type");
  const json* old_type = keys.find("type");
  if (type == nullptr) type = old_type;
  if (type == nullptr || !type->is_string()) fail(source, "rope_scaling.rope_type", "missing or not a string");
  const std::string name = type->get<std::string>();
  layers::RopeScaling r;
  if (name == "default") {
    keys.refuse_unread({}, "rope_scaling 'default'");
    return r;
  }
  if (name != "linear" && name != "llama3")
    fail(source, "rope_scaling.rope_type", "'" + name + "' is not supported (linear, llama3)");
  r.type = name == "linear" ? layers::RopeScaling::Type::kLinear : layers::RopeScaling::Type::kLlama3;
  r.factor = keys.number("factor", 1.0, true);
  if (r.type == layers::RopeScaling::Type::kLlama3) {
    r.low_freq_factor = keys.number("low_freq_factor", 0.0, true);
    r.high_freq_factor = keys.number("high_freq_factor", 0.0, true);
    r.original_max_position_embeddings = keys.integer("original_max_position_embeddings");
  }
  keys.refuse_unread({}, "rope_scaling '" + name + "'");
  return r;
}

// Sliding windows: Mistral attends to the last sliding_window tokens (null: all); Qwen2 only when
// use_sliding_window (and per layer_types in newer files). Full attention equals them within the window.
void read_sliding_window(Keys& keys, const std::string& architecture, layers::LlamaConfig& c) {
  const json* types = keys.find("layer_types");
  if (types != nullptr) {
    if (!types->is_array()) fail(keys.source(), "layer_types", "is not a list");
    for (const json& t : *types)
      if (t != "full_attention") fail(keys.source(), "layer_types", "holds " + t.dump() + " (only \"full_attention\" is supported)");
  }
  if (architecture == "Qwen2ForCausalLM") {
    if (keys.boolean("use_sliding_window", false))
      fail(keys.source(), "use_sliding_window", "true is not supported (sliding-window attention)");
    keys.find("sliding_window");  // unused by Qwen2 while use_sliding_window is false
    keys.find("max_window_layers");
    return;
  }
  if (architecture == "MistralForCausalLM") {
    const int64_t none = 0;
    c.sliding_window = keys.integer("sliding_window", &none);
  }
}

}  // namespace

HfConfig parse_hf_config(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw io::ReadError(io::json_parse_error("hf", source, 0, e.byte, e.what()));
  } catch (const json::exception& e) {
    throw std::runtime_error("hf: " + source + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw std::runtime_error("hf: " + source + ": not a JSON object");
  Keys keys(j, source, "");
  HfConfig out;
  out.architecture = architecture_of(keys, source);
  layers::LlamaConfig& c = out.llama;
  c.vocab_size = keys.integer("vocab_size");
  c.hidden_size = keys.integer("hidden_size");
  c.intermediate_size = keys.integer("intermediate_size");
  c.num_hidden_layers = keys.integer("num_hidden_layers");
  c.num_attention_heads = keys.integer("num_attention_heads");
  c.num_key_value_heads = keys.integer("num_key_value_heads", &c.num_attention_heads);  // HF: None -> heads (MHA)
  const int64_t max_positions = 2048;  // LlamaConfig's default
  c.max_position_embeddings = keys.integer("max_position_embeddings", &max_positions);
  c.rms_norm_eps = static_cast<float>(keys.number("rms_norm_eps", 1e-6));
  c.rope_theta = static_cast<float>(keys.number("rope_theta", 10000.0));
  c.tie_word_embeddings = keys.boolean("tie_word_embeddings", false);
  const int64_t no_head_dim = 0;
  c.head_dim_override = keys.integer("head_dim", &no_head_dim);
  if (c.num_attention_heads > 0 && c.head_dim_override == c.hidden_size / c.num_attention_heads &&
      c.hidden_size % c.num_attention_heads == 0)
    c.head_dim_override = 0;  // the default written out
  const json* act = keys.find("hidden_act");
  if (act != nullptr && *act != "silu") fail(source, "hidden_act", act->dump() + " is not supported (silu)");
  const bool llama = out.architecture == "LlamaForCausalLM";
  const bool attention_bias = keys.boolean("attention_bias", false), mlp_bias = keys.boolean("mlp_bias", false);
  if (!llama && (attention_bias || mlp_bias))
    fail(source, attention_bias ? "attention_bias" : "mlp_bias", "true is not read by " + out.architecture);
  c.attention_bias = attention_bias;
  c.mlp_bias = mlp_bias;
  c.qkv_bias = out.architecture == "Qwen2ForCausalLM";  // Qwen2Attention: q/k/v_proj bias=True, o_proj none
  if (const json* r = keys.find("rope_scaling")) c.rope_scaling = rope_scaling_of(*r, source);
  read_sliding_window(keys, out.architecture, c);
  for (const HfQuantFormat& f : hf_quant_formats()) {  // packed Linears (docs/hf.md §11), by the key of the config
    const std::string key(f.config_object);
    const json* q = key == out.quantization_key && !out.quantization_config.empty() ? nullptr : keys.find(key);
    if (q == nullptr) continue;
    if (!out.quantization_config.empty() && key != out.quantization_key)
      fail(source, key, "a second quantization config beside '" + out.quantization_key + "'");
    out.quantization_config = q->dump();
    out.quantization_key = key;
    try {
      HfQuantReader{out.quantization_config, out.quantization_key, &c};
    } catch (const std::invalid_argument& e) {
      fail(source, key, e.what());
    }
  }
  keys.refuse_unread(kInertKeys, out.architecture);
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("hf: " + source + ": " + e.what());
  }
  return out;
}

HfConfig read_hf_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("hf: " + path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_hf_config(text.str(), path.string());
}

}  // namespace qforge::exporters::hf
