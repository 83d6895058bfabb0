#pragma once
// Reading quantization_config objects (internal to exporters/hf/quant/): errors name the layout and
// the key, as the rest of the exporters do.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace qforge::exporters::hf::quant {

inline nlohmann::json parse_config(const std::string& text, const std::string& layout) {
  nlohmann::json c = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!c.is_object()) throw std::invalid_argument(layout + " quantization_config: not a JSON object");
  return c;
}

// c[key], or c[alias] when key is absent and alias is given; std::invalid_argument naming the key when
// neither is present or the value does not convert to T.
template <typename T>
T config_value(const nlohmann::json& c, const std::string& key, const std::string& layout, const char* alias = nullptr) {
  const std::string found = c.contains(key) || alias == nullptr ? key : alias;
  if (!c.contains(found)) throw std::invalid_argument(layout + " quantization_config: key '" + key + "' missing");
  try {
    return c.at(found).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(layout + " quantization_config: key '" + found + "' has the wrong type (" +
                                c.at(found).dump() + ")");
  }
}

// The value or `fallback` when the key is absent or null.
template <typename T>
T config_value_or(const nlohmann::json& c, const std::string& key, const std::string& layout, T fallback) {
  if (!c.contains(key) || c.at(key).is_null()) return fallback;
  return config_value<T>(c, key, layout);
}

inline void expect_config_string(const nlohmann::json& c, const std::string& key, const std::string& expected,
                                 const std::string& layout) {
  const std::string actual = config_value<std::string>(c, key, layout);
  if (actual != expected) {
    throw std::invalid_argument(layout + " quantization_config: key '" + key + "' is \"" + actual + "\", expected \"" +
                                expected + "\"");
  }
}

}  // namespace qforge::exporters::hf::quant
