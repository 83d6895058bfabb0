#include "exporters/hf/quant/compressed_tensors_config.h"

#include <stdexcept>

#include "exporters/hf/quant/config_keys.h"

namespace qforge::exporters::hf::quant {

nlohmann::json ct_quant_args_json(const CtQuantArgs& a) {
  const auto or_null = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {{"num_bits", a.num_bits},
          {"type", a.type},
          {"symmetric", a.symmetric},
          {"strategy", a.strategy},
          {"group_size", or_null(a.group_size)},
          {"block_structure", nullptr},
          {"dynamic", a.dynamic},
          {"actorder", or_null(a.actorder)}};
}

std::string ct_config(const std::string& format, const nlohmann::json& weights, const nlohmann::json& input_activations,
                      const std::vector<std::string>& ignore) {
  const nlohmann::json group = {{"targets", {"Linear"}},
                                {"weights", weights},
                                {"input_activations", input_activations},
                                {"output_activations", nullptr}};
  const nlohmann::json c = {{"quant_method", kCompressedTensors},
                            {"format", format},
                            {"quantization_status", "compressed"},
                            {"config_groups", {{"group_0", group}}},
                            {"ignore", ignore},
                            {"kv_cache_scheme", nullptr},
                            {"sparsity_config", nlohmann::json::object()},
                            {"transform_config", nlohmann::json::object()}};
  return c.dump(2);
}

nlohmann::json ct_single_group(const nlohmann::json& c, const std::string& format) {
  expect_config_string(c, "quant_method", kCompressedTensors, kCompressedTensors);
  expect_config_string(c, "format", format, kCompressedTensors);
  const auto groups = config_value<nlohmann::json>(c, "config_groups", kCompressedTensors);
  if (!groups.is_object() || groups.size() != 1) {
    throw std::invalid_argument(std::string(kCompressedTensors) +
                                " quantization_config: key 'config_groups' must hold exactly one group (mixed schemes "
                                "are not read)");
  }
  return groups.begin().value();
}

nlohmann::json ct_args_of(const nlohmann::json& group, const std::string& key) {
  if (!group.is_object() || !group.contains(key)) return nullptr;
  const nlohmann::json& args = group.at(key);
  if (!args.is_null() && !args.is_object()) {
    throw std::invalid_argument(std::string(kCompressedTensors) + " quantization_config: key '" + key +
                                "' is not an object");
  }
  return args;
}

}  // namespace qforge::exporters::hf::quant
