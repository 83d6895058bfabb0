// PEFT LoRA directory writer and reader (peft_adapter.h; docs/peft-lora.md §1-§4).
#include "exporters/lora/peft_adapter.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "io/read_error.h"

namespace qforge::exporters::lora {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::filesystem::path& dir, const std::string& what) {
  throw std::invalid_argument("peft adapter '" + dir.string() + "': " + what);
}

// adapter_config.json's errors: "peft adapter: DIR/adapter_config.json: key K ..." (a JSON key path names
// the field; io/read_error.h).
[[noreturn]] void fail_config(const std::filesystem::path& dir, const std::string& what) {
  throw std::invalid_argument("peft adapter: " + (dir / kPeftConfigFile).string() + ": " + what);
}

// A tensor of adapter_model.safetensors, named with the byte its data starts at.
[[noreturn]] void fail_tensor(const std::filesystem::path& weights, const std::string& name, uint64_t at,
                              const std::string& what) {
  throw std::invalid_argument(io::read_error("peft adapter", weights.string(), "tensor '" + io::printable(name) + "'", at, what));
}

// lora_alpha is an int in PEFT's dataclass; keep integral values integral in the JSON.
json number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return static_cast<int64_t>(v);
  return v;
}

json config_json(const LoraAdapterConfig& c, const std::vector<LoraPair>& pairs) {
  std::vector<std::string> targets = c.target_modules;
  if (targets.empty()) {
    std::set<std::string> distinct;
    for (const LoraPair& p : pairs) distinct.insert(module_suffix(p.module));
    targets.assign(distinct.begin(), distinct.end());
  }
  // Exactly the minimal set of docs/peft-lora.md §4: current PEFT drops unknown keys, older versions raise.
  return json{{"peft_type", "LORA"}, {"task_type", "CAUSAL_LM"}, {"base_model_name_or_path", c.base_model_name_or_path},
              {"r", c.r}, {"lora_alpha", number(c.lora_alpha)}, {"target_modules", targets},
              {"lora_dropout", c.lora_dropout}, {"bias", "none"}, {"fan_in_fan_out", false},
              {"use_rslora", c.use_rslora}, {"use_dora", false}, {"modules_to_save", nullptr},
              {"rank_pattern", json::object()}, {"alpha_pattern", json::object()}, {"inference_mode", true}};
}

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  try {
    io::write_file_atomically(path, std::string_view(text));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("peft adapter: " + std::string(e.what()));  // the message starts with the path
  }
}

// Keys whose non-default value changes the math in a way qforge does not model.
void reject_unsupported(const json& j, const std::filesystem::path& dir) {
  auto non_empty = [&](const char* key) { return j.contains(key) && !j[key].is_null() && !j[key].empty(); };
  auto is_true = [&](const char* key) { return j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); };
  for (const char* key : {"rank_pattern", "alpha_pattern", "modules_to_save", "layers_to_transform"})
    if (non_empty(key)) fail_config(dir, std::string("key ") + key + " = " + j[key].dump() + " is not supported");
  for (const char* key : {"use_dora", "fan_in_fan_out", "lora_bias"})
    if (is_true(key)) fail_config(dir, std::string("key ") + key + " = true is not supported");
  if (j.contains("bias") && j["bias"] != "none")
    fail_config(dir, "key bias = " + j["bias"].dump() + " is not supported (only \"none\")");
}

LoraAdapterConfig parse_config(const json& j, const std::filesystem::path& dir) {
  if (!j.is_object()) fail_config(dir, "is not a JSON object");
  if (!j.contains("peft_type") || j["peft_type"] != "LORA")
    fail_config(dir, "key peft_type is " + (j.contains("peft_type") ? j["peft_type"].dump() : "missing") + ", expected \"LORA\"");
  reject_unsupported(j, dir);
  LoraAdapterConfig c;
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() <= 0) fail_config(dir, "key r missing or not a positive integer");
  c.r = j["r"].get<int64_t>();
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number()) fail_config(dir, "key lora_alpha missing or not a number");
  c.lora_alpha = j["lora_alpha"].get<double>();
  if (!j.contains("target_modules")) fail_config(dir, "key target_modules missing");
  const json& targets = j["target_modules"];
  if (targets.is_string()) c.target_modules = {targets.get<std::string>()};  // PEFT allows one regex
  else if (targets.is_array() && std::all_of(targets.begin(), targets.end(), [](const json& t) { return t.is_string(); }))
    c.target_modules = targets.get<std::vector<std::string>>();
  else fail_config(dir, "key target_modules is neither a string nor a list of strings");
  if (j.contains("lora_dropout") && j["lora_dropout"].is_number()) c.lora_dropout = j["lora_dropout"].get<double>();
  if (j.contains("use_rslora") && j["use_rslora"].is_boolean()) c.use_rslora = j["use_rslora"].get<bool>();
  if (j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
    c.base_model_name_or_path = j["base_model_name_or_path"].get<std::string>();
  return c;
}

// "base_model.model.X" -> "X"; the non-LoRA PEFT tensors qforge does not model are named in the error.
std::string qforge_name(const std::string& name, const std::filesystem::path& weights, uint64_t at) {
  const std::string prefix = kPeftNamePrefix;
  if (name.rfind(prefix, 0) != 0) fail_tensor(weights, name, at, "does not start with " + prefix);
  for (const char* unsupported : {"lora_magnitude_vector", "lora_embedding_", ".lora_B.bias", "base_layer"})
    if (name.find(unsupported) != std::string::npos)
      fail_tensor(weights, name, at, std::string(unsupported) + " is not supported: only lora_A/lora_B weights");
  return name.substr(prefix.size());
}

}  // namespace

void save_peft_adapter(const std::filesystem::path& dir, const NamedTensors& lora, const LoraAdapterConfig& config) {
  if (config.r <= 0) fail(dir, "r = " + std::to_string(config.r) + " is not positive");
  const std::vector<LoraPair> pairs = lora_pairs(lora, config.r, "peft adapter '" + dir.string() + "'");
  NamedTensors prefixed;
  for (const auto& [name, t] : lora) prefixed.emplace(kPeftNamePrefix + name, t);
  std::filesystem::create_directories(dir);
  safetensors::write_safetensors(dir / kPeftWeightsFile, prefixed, {{"format", "pt"}});
  write_text_atomically(dir / kPeftConfigFile, config_json(config, pairs).dump(2) + "\n");
}

LoraAdapter load_peft_adapter(const std::filesystem::path& dir) {
  std::ifstream in(dir / kPeftConfigFile);
  if (!in) fail(dir, std::string("cannot open ") + kPeftConfigFile);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(io::json_parse_error("peft adapter", (dir / kPeftConfigFile).string(), 0, e.byte, e.what()));
  } catch (const json::exception& e) {
    fail_config(dir, std::string("is not valid JSON: ") + e.what());
  }
  LoraAdapter out;
  out.config = parse_config(j, dir);
  const std::filesystem::path weights = dir / kPeftWeightsFile;
  if (!std::filesystem::exists(weights)) fail(dir, std::string(kPeftWeightsFile) + " missing (adapter_model.bin is not supported)");
  const io::MappedFile file(weights);
  std::map<std::string, uint64_t> data_at;  // where each tensor's data starts, for its errors
  for (const auto& e : safetensors::parse_safetensors_header(file.bytes(), weights.string()).tensors) data_at[e.name] = e.begin;
  safetensors::SafetensorsContents contents = safetensors::parse_safetensors(file.bytes(), weights.string());
  if (!contents.encoded.empty()) {
    const auto& [name, encoded] = *contents.encoded.begin();
    fail_tensor(weights, name, data_at[name],
                "dtype " + std::string(safetensors::dtype_name(encoded.dtype)) + "; adapters are float tensors");
  }
  for (auto& [name, t] : contents.tensors) out.tensors.emplace(qforge_name(name, weights, data_at[name]), t);
  lora_pairs(out.tensors, out.config.r, "peft adapter: " + weights.string());
  return out;
}

}  // namespace qforge::exporters::lora
