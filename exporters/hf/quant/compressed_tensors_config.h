#pragma once
// compressed-tensors' quantization_config (internal to exporters/hf/quant/; docs/hf-quantized.md §4, §7, §8):
// one config group targeting every Linear, its weights and input_activations QuantizationArgs, and the
// keys around it. The pack-quantized, float-quantized and int-quantized layouts differ only in
// `format` and in the arguments.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace qforge::exporters::hf::quant {

inline constexpr const char* kCompressedTensors = "compressed-tensors";

// QuantizationArgs as compressed-tensors serializes them (the keys qforge writes, in this order).
struct CtQuantArgs {
  int num_bits = 8;
  std::string type = "int";  // "int" | "float"
  bool symmetric = true;
  std::string strategy;  // "tensor" | "channel" | "group" | "token"
  std::optional<int64_t> group_size;
  bool dynamic = false;
  std::optional<std::string> actorder;
};
nlohmann::json ct_quant_args_json(const CtQuantArgs& args);

// The whole quantization_config; `input_activations` null for weight-only schemes.
std::string ct_config(const std::string& format, const nlohmann::json& weights, const nlohmann::json& input_activations,
                      const std::vector<std::string>& ignore);

// The reader's side: quant_method and format checked, the one config group returned (mixed schemes
// are refused). std::invalid_argument naming the key.
nlohmann::json ct_single_group(const nlohmann::json& config, const std::string& format);
// A group's QuantizationArgs object under `key` ("weights", "input_activations"); null when absent or null.
nlohmann::json ct_args_of(const nlohmann::json& group, const std::string& key);

}  // namespace qforge::exporters::hf::quant
