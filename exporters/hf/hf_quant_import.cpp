// Quantized Linears of a Hugging Face folder back to FP32 (hf_quant_import.h).
#include "exporters/hf/hf_quant_import.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/bitsandbytes_int8_layout.h"
#include "exporters/hf/quant/hf_quant_layouts.h"

namespace qforge::exporters::hf {

HfQuantReader::HfQuantReader(const std::string& config_json) {
  const nlohmann::json c = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  format_ = &hf_quant_format_for_config(c);
  switch (format_->kind) {
    case HfQuantKind::kInteger: options_ = quant::hf_quant_layout(format_->layout).options_from_config(config_json); break;
    case HfQuantKind::kBnb4Bit: bnb_ = quant::bnb_4bit_options(config_json); break;
    case HfQuantKind::kBnbInt8: quant::bnb_int8_options(config_json); break;  // checked; nothing the weights need
    case HfQuantKind::kFp8: fp8_ = quant::fp8_options(config_json); break;
    case HfQuantKind::kSpqr: spqr_ = quant::spqr_options(config_json); break;
  }
}

std::vector<std::string> HfQuantReader::packed_names(const std::string& weight, const std::set<std::string>& names) const {
  const std::string prefix = quant::module_prefix(weight) + ".";
  if (!names.count(prefix + std::string(format_->marker))) return {};
  std::vector<std::string> out;
  for (auto it = names.lower_bound(prefix); it != names.end() && it->starts_with(prefix); ++it)
    if (*it != prefix + "bias") out.push_back(*it);
  return out;
}

namespace {

// SpQR's config lists the length of every packed tensor ("P.dense_weights.shape"); a file that disagrees is
// refused naming the tensor (transformers builds its modules from these lengths).
void check_spqr_shapes(const quant::SpqrConfig& config, const quant::FileTensors& tensors) {
  for (const auto& [name, t] : tensors) {
    const auto it = config.shapes.find(name + ".shape");
    if (it == config.shapes.end())
      throw std::invalid_argument(name + ": not in quantization_config.shapes (key '" + name + ".shape' missing)");
    if (t.shape.size() != 1 || t.shape[0] != it->second)
      throw std::invalid_argument(name + ": " + std::to_string(t.numel()) + " elements, quantization_config.shapes says " +
                                  std::to_string(it->second));
  }
}

}  // namespace

std::vector<float> HfQuantReader::dequantize(const std::string& weight, const quant::FileTensors& tensors, int64_t& out,
                                             int64_t& in) const {
  const std::string prefix = quant::module_prefix(weight);
  const auto sized = [&](const auto& w, std::vector<float> values) {
    out = w.out;
    in = w.in;
    return values;
  };
  switch (format_->kind) {
    case HfQuantKind::kBnb4Bit: {
      const quant::Bnb4BitWeight w = quant::unpack_bnb_4bit(prefix, tensors);
      return sized(w, quant::dequantize_bnb_4bit(w));
    }
    case HfQuantKind::kBnbInt8: {
      const quant::BnbInt8Weight w = quant::unpack_bnb_int8(prefix, tensors);
      return sized(w, quant::dequantize_bnb_int8(w));
    }
    case HfQuantKind::kFp8: {
      const quant::Fp8Weight w = quant::unpack_fp8(prefix, tensors, fp8_);
      return sized(w, quant::dequantize_fp8(w));
    }
    case HfQuantKind::kSpqr: {
      check_spqr_shapes(spqr_, tensors);
      const quant::SpqrWeight w = quant::unpack_spqr(prefix, tensors);
      return sized(w, quant::dequantize_spqr(w));
    }
    case HfQuantKind::kInteger: break;
  }
  const quant::GroupedIntWeight w = quant::hf_quant_layout(format_->layout).unpack(prefix, tensors, options_);
  return sized(w, quant::dequantize(w));
}

autograd::PackedWeightPtr HfQuantReader::packed(const std::string& weight, const quant::FileTensors& tensors) const {
  const std::string prefix = quant::module_prefix(weight);
  if (format_->kind == HfQuantKind::kBnb4Bit) {
    quant::Bnb4BitWeight w = quant::unpack_bnb_4bit(prefix, tensors);
    return std::make_shared<fakequant::Packed4BitWeight>(std::move(w.blocks), w.out, w.in);
  }
  if (format_->kind == HfQuantKind::kInteger)
    return quant::packed_group_index(quant::hf_quant_layout(format_->layout).unpack(prefix, tensors, options_));
  throw std::invalid_argument(weight + ": a QLoRA base keeps the codes of gptq, awq, w4a16, bnb-nf4 and bnb-fp4 folders, not " +
                              std::string(format_->name) + "'s (set lora.base_format: nf4 to train on its dequantized "
                              "weights quantized to NF4)");
}

}  // namespace qforge::exporters::hf
