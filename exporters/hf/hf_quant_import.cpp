// Quantized Linears of a Hugging Face folder back to FP32 (hf_quant_import.h).
#include "exporters/hf/hf_quant_import.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/hf_quant_layouts.h"

namespace qforge::exporters::hf {

HfQuantReader::HfQuantReader(const std::string& config_json) {
  const nlohmann::json c = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (!c.is_object() || !c.contains("quant_method") || !c["quant_method"].is_string())
    throw std::invalid_argument("key 'quant_method' missing or not a string");
  const std::string method = c["quant_method"].get<std::string>();
  format_ = hf_quant_format_for_method(method);
  if (format_ == nullptr) {
    std::string methods;
    for (const HfQuantFormat& f : hf_quant_formats()) methods += (methods.empty() ? "" : ", ") + std::string(f.quant_method);
    throw std::invalid_argument("key 'quant_method': \"" + method + "\" is not read (" + methods + ")");
  }
  if (format_->layout.empty()) bnb_ = quant::bnb_4bit_options(config_json);
  else options_ = quant::hf_quant_layout(format_->layout).options_from_config(config_json);
}

std::vector<std::string> HfQuantReader::packed_names(const std::string& weight, const std::set<std::string>& names) const {
  const std::string prefix = quant::module_prefix(weight) + ".";
  if (!names.count(prefix + std::string(format_->marker))) return {};
  std::vector<std::string> out;
  for (auto it = names.lower_bound(prefix); it != names.end() && it->starts_with(prefix); ++it)
    if (*it != prefix + "bias") out.push_back(*it);
  return out;
}

std::vector<float> HfQuantReader::dequantize(const std::string& weight, const quant::FileTensors& tensors, int64_t& out,
                                             int64_t& in) const {
  const std::string prefix = quant::module_prefix(weight);
  if (format_->layout.empty()) {
    const quant::Bnb4BitWeight w = quant::unpack_bnb_4bit(prefix, tensors);
    out = w.out;
    in = w.in;
    return quant::dequantize_bnb_4bit(w);
  }
  const quant::GroupedIntWeight w = quant::hf_quant_layout(format_->layout).unpack(prefix, tensors, options_);
  out = w.out;
  in = w.in;
  return quant::dequantize(w);
}

autograd::PackedWeightPtr HfQuantReader::packed(const std::string& weight, const quant::FileTensors& tensors) const {
  const std::string prefix = quant::module_prefix(weight);
  if (format_->layout.empty()) {
    quant::Bnb4BitWeight w = quant::unpack_bnb_4bit(prefix, tensors);
    return std::make_shared<fakequant::Packed4BitWeight>(std::move(w.blocks), w.out, w.in);
  }
  return quant::packed_group_index(quant::hf_quant_layout(format_->layout).unpack(prefix, tensors, options_));
}

}  // namespace qforge::exporters::hf
