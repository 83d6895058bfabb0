// Hugging Face model folder reader (hf_model_reader.h). The shard index format is transformers'
// modeling_utils.py (load_sharded_checkpoint / SAFE_WEIGHTS_INDEX_NAME): {"metadata": {...},
// "weight_map": {tensor name: shard file name}}; the tensor names are the state dict of
// LlamaForCausalLM (models/llama/modeling_llama.py), shared by Mistral and Qwen2.
#include "exporters/hf/hf_model_reader.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "exporters/hf/hf_quant_import.h"
#include "exporters/safetensors/safetensors.h"
#include "io/mapped_file.h"
#include "io/read_error.h"
#include "layers/init.h"

namespace qforge::exporters::hf {
namespace {

namespace fs = std::filesystem;
namespace st = exporters::safetensors;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw std::runtime_error("hf: " + file.string() + ": " + what);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

struct Shard {
  fs::path path;
  io::MappedFile map;
  st::SafetensorsHeader header;
};

// The shard files: the index's weight_map (tensor -> file, checked to name existing plain files in
// `dir`), or the single model.safetensors (empty weight_map).
std::vector<std::string> shard_files(const fs::path& dir, std::map<std::string, std::string>& weight_map) {
  const fs::path index = dir / kIndexFile;
  if (!fs::exists(index)) {
    if (!fs::exists(dir / kSingleFile)) fail(dir, std::string("holds neither ") + kSingleFile + " nor " + kIndexFile);
    return {kSingleFile};
  }
  std::ifstream in(index);
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw io::ReadError(io::json_parse_error("hf", index.string(), 0, e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    fail(index, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail(index, "field weight_map missing or not an object");
  std::vector<std::string> files;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    if (!file.is_string()) fail(index, "tensor '" + tensor + "': field weight_map value " + file.dump() + " is not a file name");
    const std::string name = file.get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      fail(index, "tensor '" + tensor + "': field weight_map names '" + name + "', not a file name in the folder");
    if (!fs::is_regular_file(dir / name))
      fail(index, "tensor '" + tensor + "': field weight_map names '" + name + "', which does not exist");
    weight_map[tensor] = name;
    if (std::find(files.begin(), files.end(), name) == files.end()) files.push_back(name);
  }
  if (files.empty()) fail(index, "field weight_map is empty");
  return files;
}

struct Located {
  const Shard* shard = nullptr;
  const st::TensorEntry* entry = nullptr;
};

// Every tensor of every shard, once, in the shard the index says.
std::map<std::string, Located> locate(const std::vector<Shard>& shards, const std::map<std::string, std::string>& weight_map,
                                      const fs::path& index) {
  std::map<std::string, Located> out;
  for (const Shard& shard : shards) {
    for (const st::TensorEntry& e : shard.header.tensors) {
      const auto [it, fresh] = out.emplace(e.name, Located{&shard, &e});
      if (!fresh) fail(shard.path, "tensor '" + e.name + "' is also in " + it->second.shard->path.string());
      if (weight_map.empty()) continue;
      const auto w = weight_map.find(e.name);
      if (w == weight_map.end()) fail(shard.path, "tensor '" + e.name + "' is not in the weight_map of " + index.string());
      if (w->second != shard.path.filename().string())
        fail(shard.path, "tensor '" + e.name + "': " + index.string() + " field weight_map puts it in '" + w->second + "'");
    }
  }
  for (const auto& [tensor, file] : weight_map)
    if (out.count(tensor) == 0)
      fail(index, "tensor '" + tensor + "': field weight_map names '" + file + "', which has no such tensor");
  return out;
}

// Packed Linears (hf_quant_import.h): weight name -> the names of its packed tensors.
using PackedWeights = std::map<std::string, std::vector<std::string>>;

PackedWeights packed_weights(const std::map<std::string, Located>& located, const HfConfig& config, const fs::path& dir) {
  if (config.quantization_config.empty()) return {};
  const HfQuantReader reader(config.quantization_config, config.quantization_key, &config.llama);
  std::set<std::string> names;
  for (const auto& [name, where] : located) names.insert(name);
  PackedWeights out;
  for (const ExpectedTensor& t : expected_tensors(config.llama)) {
    std::vector<std::string> packed = t.shape.size() == 2 ? reader.packed_names(t.name, names) : std::vector<std::string>{};
    if (!packed.empty()) out[t.name] = std::move(packed);
  }
  if (out.empty())
    fail(dir / "config.json", "key '" + config.quantization_key + "': " +
                                  (reader.format().quant_method.empty() ? std::string(reader.format().name)
                                                                        : "quant_method \"" + std::string(reader.format().quant_method) + "\"") +
                                  " but no module has its packed tensors (P." + std::string(reader.format().marker) + ")");
  return out;
}

// Names and shapes against config.json, before anything is allocated; packed weights are checked when
// they are unpacked.
void check_against_config(const std::map<std::string, Located>& located, const HfConfig& config, const fs::path& dir,
                          const PackedWeights& packed) {
  // The count first, so a huge num_hidden_layers cannot make the name list itself large.
  const layers::LlamaConfig& c = config.llama;
  const int64_t per_layer = 9 + ((c.attention_bias || c.qkv_bias) ? 3 : 0) + (c.attention_bias ? 1 : 0) + (c.mlp_bias ? 3 : 0);
  if (c.num_hidden_layers > static_cast<int64_t>(located.size()) / per_layer)
    fail(dir / "config.json", "key 'num_hidden_layers': " + std::to_string(c.num_hidden_layers) + " layers need " +
                                  std::to_string(per_layer) + " tensors each but the safetensors files hold " +
                                  std::to_string(located.size()) + " tensors in all");
  const std::vector<ExpectedTensor> expected = expected_tensors(config.llama);
  std::map<std::string, const ExpectedTensor*> by_name;
  for (const ExpectedTensor& t : expected) by_name[t.name] = &t;
  // Some tied checkpoints still store lm_head.weight; it must then equal the embedding (read_hf_model).
  const ExpectedTensor tied_head{"lm_head.weight", {config.llama.vocab_size, config.llama.hidden_size}};
  if (config.llama.tie_word_embeddings) by_name.emplace(tied_head.name, &tied_head);
  std::set<std::string> packed_names;
  for (const auto& [weight, names] : packed) packed_names.insert(names.begin(), names.end());
  for (const auto& [name, where] : located) {
    if (packed_names.count(name)) continue;
    const auto it = by_name.find(name);
    if (it == by_name.end())
      fail(where.shard->path, "tensor '" + name + "' is not a parameter of " + config.architecture + " for " +
                                  (dir / "config.json").string());
    // A stored tensor's error names the byte its data starts at (io/read_error.h).
    const auto fail_tensor = [&, &name = name, &where = where](const std::string& what) {  // clang 14: no binding captures
      io::throw_read_error("hf", where.shard->path.string(), "tensor '" + io::printable(name) + "'", where.entry->begin, what);
    };
    if (!st::is_float_dtype(where.entry->dtype))
      fail_tensor("dtype " + std::string(st::dtype_name(where.entry->dtype)) +
                  " is not a float dtype (packed weights need config.json's quantization_config)");
    if (where.entry->shape != it->second->shape)
      fail_tensor("field shape " + shape_text(where.entry->shape) + " disagrees with config.json, which implies " +
                  shape_text(it->second->shape));
  }
  for (const ExpectedTensor& t : expected)
    if (located.count(t.name) == 0 && packed.count(t.name) == 0)
      fail(dir, "tensor '" + t.name + "' " + shape_text(t.shape) + ", which config.json implies, is in no safetensors file");
}

void decode_into(const Located& where, autograd::Tensor& target) {
  st::decode_tensor(*where.entry, where.shard->map.bytes(), std::span<float>(target.data(), static_cast<size_t>(target.numel())));
  where.shard->map.release(where.entry->begin, where.entry->end - where.entry->begin);
}

// The tensors `names` of a packed weight, as stored.
quant::FileTensors packed_tensors(const std::map<std::string, Located>& located, const std::vector<std::string>& names) {
  quant::FileTensors tensors;
  for (const std::string& name : names) {
    const Located& where = located.at(name);
    tensors.emplace(name, st::encoded_tensor(*where.entry, where.shard->map.bytes()));
  }
  return tensors;
}

// A packed weight's tensors from the maps, unpacked and dequantized into `target` (its shape checked).
void dequantize_into(const std::map<std::string, Located>& located, const std::vector<std::string>& names,
                     const std::string& weight, const HfQuantReader& reader, autograd::Tensor& target) {
  const Located& first = located.at(names.front());
  int64_t out = 0, in = 0;
  std::vector<float> values;
  try {
    values = reader.dequantize(weight, packed_tensors(located, names), out, in);
  } catch (const std::invalid_argument& e) {
    fail(first.shard->path, e.what());
  }
  const std::vector<int64_t> shape{out, in};
  if (target.shape().ndim() != 2 || target.shape()[0] != out || target.shape()[1] != in)
    fail(first.shard->path, "tensor '" + weight + "': packed shape " + shape_text(shape) + " does not fit parameter " +
                                target.shape().to_string());
  std::copy(values.begin(), values.end(), target.data());
}

void check_tied_head(const std::map<std::string, Located>& located, const autograd::Tensor& embed) {
  const auto it = located.find("lm_head.weight");
  if (it == located.end()) return;
  autograd::Tensor head(embed.shape());
  decode_into(it->second, head);
  if (!std::equal(head.data(), head.data() + head.numel(), embed.data()))
    fail(it->second.shard->path, "tensor 'lm_head.weight' differs from model.embed_tokens.weight although config.json "
                                 "has tie_word_embeddings true");
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const layers::LlamaConfig& c) {
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim(), kv = c.num_key_value_heads * c.head_dim();
  const int64_t inter = c.intermediate_size;
  const bool qkv_bias = c.attention_bias || c.qkv_bias;
  std::vector<ExpectedTensor> out{{"model.embed_tokens.weight", {c.vocab_size, h}}};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const auto add = [&](const std::string& name, int64_t rows, int64_t cols, bool bias) {
      out.push_back({p + name + ".weight", {rows, cols}});
      if (bias) out.push_back({p + name + ".bias", {rows}});
    };
    add("self_attn.q_proj", q, h, qkv_bias);
    add("self_attn.k_proj", kv, h, qkv_bias);
    add("self_attn.v_proj", kv, h, qkv_bias);
    add("self_attn.o_proj", h, q, c.attention_bias);
    add("mlp.gate_proj", inter, h, c.mlp_bias);
    add("mlp.up_proj", inter, h, c.mlp_bias);
    add("mlp.down_proj", h, inter, c.mlp_bias);
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
  }
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  return out;
}

bool is_hf_folder(const fs::path& path) { return fs::is_directory(path) && fs::is_regular_file(path / "config.json"); }

namespace {

// A folder's shards, mapped with their headers checked, and every tensor located (the pointers of
// `located` stay valid when the Folder moves: they point into the vector's buffer).
struct Folder {
  std::vector<Shard> shards;
  std::map<std::string, Located> located;
  PackedWeights packed;
};

Folder open_folder(const fs::path& dir, const HfConfig& config) {
  if (!fs::is_directory(dir)) fail(dir, "is not a folder");
  std::map<std::string, std::string> weight_map;
  Folder f;
  for (const std::string& file : shard_files(dir, weight_map)) {
    io::MappedFile map(dir / file);
    st::SafetensorsHeader header = st::parse_safetensors_header(map.bytes(), (dir / file).string());
    f.shards.push_back(Shard{dir / file, std::move(map), std::move(header)});
  }
  f.located = locate(f.shards, weight_map, dir / kIndexFile);
  f.packed = packed_weights(f.located, config, dir);
  check_against_config(f.located, config, dir, f.packed);
  return f;
}

// Fills `targets` from a folder open_folder checked: the decoded tensors fill a model as large as the
// files, no larger.
void fill(const Folder& folder, const fs::path& dir, const HfConfig& config,
          const std::map<std::string, autograd::Tensor*>& targets) {
  const std::map<std::string, Located>& located = folder.located;
  const PackedWeights& packed = folder.packed;
  const std::optional<HfQuantReader> reader =
      packed.empty() ? std::nullopt : std::optional<HfQuantReader>(HfQuantReader(config.quantization_config, config.quantization_key, &config.llama));
  for (const auto& [name, target] : targets) {
    if (const auto p = packed.find(name); p != packed.end()) {
      dequantize_into(located, p->second, name, *reader, *target);
      continue;
    }
    const auto it = located.find(name);
    if (it == located.end()) fail(dir, "parameter '" + name + "' has no tensor (config.json describes another model)");
    if (target->numel() != it->second.entry->numel())
      fail(it->second.shard->path, "tensor '" + name + "': field shape " + shape_text(it->second.entry->shape) +
                                       " does not fit parameter " + target->shape().to_string());
    decode_into(it->second, *target);
  }
  std::set<std::string> packed_names;
  for (const auto& [weight, names] : packed) packed_names.insert(names.begin(), names.end());
  for (const auto& [name, where] : located)
    if (targets.count(name) == 0 && name != "lm_head.weight" && !packed_names.count(name))
      fail(where.shard->path, "tensor '" + name + "' has no parameter to go to");
  const auto embed = targets.find("model.embed_tokens.weight");
  if (config.llama.tie_word_embeddings && embed != targets.end()) check_tied_head(located, *embed->second);
}

}  // namespace

void read_hf_weights(const fs::path& dir, const HfConfig& config, const std::map<std::string, autograd::Tensor*>& targets) {
  fill(open_folder(dir, config), dir, config, targets);
}

std::map<std::string, autograd::PackedWeightPtr> read_hf_packed_weights(const fs::path& dir, const HfConfig& config) {
  const Folder folder = open_folder(dir, config);
  if (folder.packed.empty()) return {};
  const HfQuantReader reader(config.quantization_config, config.quantization_key, &config.llama);
  std::map<std::string, autograd::PackedWeightPtr> out;
  for (const auto& [weight, names] : folder.packed) {
    try {
      out[weight] = reader.packed(weight, packed_tensors(folder.located, names));
    } catch (const std::invalid_argument& e) {
      fail(folder.located.at(names.front()).shard->path, e.what());
    }
  }
  return out;
}

HfModel read_hf_model(const fs::path& dir) {
  if (!fs::is_directory(dir)) fail(dir, "is not a folder");
  HfModel out;
  out.config = read_hf_config(dir / "config.json");
  // The files first: config.json's sizes are only believed once the tensors are there to back them
  // (a config claiming 3 million layers must not allocate them before the first one is found missing).
  const Folder folder = open_folder(dir, out.config);
  // Built without its random init (layers::SkipInit: zeros), then written tensor by tensor.
  {
    const layers::SkipInit skip;  // no random init to overwrite: ~40% of a 1B import's time otherwise
    out.model = std::make_shared<layers::LlamaForCausalLM>(out.config.llama);
  }
  std::map<std::string, autograd::Tensor*> targets;
  for (auto& [name, param] : out.model->named_parameters()) targets[name] = &param.mutable_data();
  fill(folder, dir, out.config, targets);
  out.model->eval();
  return out;
}

}  // namespace qforge::exporters::hf
