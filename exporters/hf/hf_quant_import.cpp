// Quantized Linears of a Hugging Face folder back to FP32 (hf_quant_import.h).
#include "exporters/hf/hf_quant_import.h"

#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>

#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/bitsandbytes_int8_layout.h"
#include "exporters/hf/quant/hf_quant_layouts.h"
#include "exporters/hf/quant/quip_sharp_layout.h"
#include "fakequant/quip_sharp_weight.h"

namespace qforge::exporters::hf {

HfQuantReader::HfQuantReader(const std::string& config_json, std::string_view object, const layers::LlamaConfig* model) {
  const nlohmann::json c = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  format_ = &hf_quant_format_for_config(c, object);
  if (model != nullptr) model_ = *model;
  switch (format_->kind) {
    case HfQuantKind::kInteger: options_ = quant::hf_quant_layout(format_->layout).options_from_config(config_json); break;
    case HfQuantKind::kBnb4Bit: bnb_ = quant::bnb_4bit_options(config_json); break;
    case HfQuantKind::kBnbInt8: quant::bnb_int8_options(config_json); break;  // checked; nothing the weights need
    case HfQuantKind::kFp8: fp8_ = quant::fp8_options(config_json); break;
    case HfQuantKind::kSpqr: spqr_ = quant::spqr_options(config_json); break;
    case HfQuantKind::kQuipSharp: quant::check_quip_sharp_params(config_json); break;
  }
}

std::optional<HfQuantReader::FusedPart> HfQuantReader::fused_part(const std::string& weight) const {
  if (format_->kind != HfQuantKind::kQuipSharp) return std::nullopt;
  for (const fakequant::QuipSharpFusedModule& module : fakequant::quip_sharp_fused_modules()) {
    for (const std::string& part : module.parts) {
      const std::string suffix = "." + part + ".weight";
      if (!weight.ends_with(suffix)) continue;
      const std::string layer = weight.substr(0, weight.size() - suffix.size() + 1);  // "model.layers.<i>."
      FusedPart out{layer + module.name, 0, 0, {}};
      if (!model_) return out;  // sizes unknown: dequantize refuses
      std::map<std::string, int64_t> rows;
      for (const ExpectedTensor& t : expected_tensors(*model_)) rows[t.name] = t.shape[0];
      for (const std::string& p : module.parts) {
        if (p == part) out.begin = std::accumulate(out.sizes.begin(), out.sizes.end(), int64_t{0});
        out.sizes.push_back(rows.at(layer + p + ".weight"));
        if (p == part) out.rows = out.sizes.back();
      }
      return out;
    }
  }
  return std::nullopt;
}

std::vector<std::string> HfQuantReader::packed_names(const std::string& weight, const std::set<std::string>& names) const {
  const auto fused = fused_part(weight);
  const std::string prefix = (fused ? fused->prefix : quant::module_prefix(weight)) + ".";
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
    case HfQuantKind::kQuipSharp: return dequantize_quip_sharp(weight, tensors, out, in);
    case HfQuantKind::kInteger: break;
  }
  const quant::GroupedIntWeight w = quant::hf_quant_layout(format_->layout).unpack(prefix, tensors, options_);
  return sized(w, quant::dequantize(w));
}

std::vector<float> HfQuantReader::dequantize_quip_sharp(const std::string& weight, const quant::FileTensors& tensors,
                                                        int64_t& out, int64_t& in) const {
  const auto fused = fused_part(weight);
  const quant::QuipSharpWeight w = quant::unpack_quip_sharp(fused ? fused->prefix : quant::module_prefix(weight), tensors);
  in = w.in;
  if (!fused) {
    out = w.out;
    return quant::dequantize_quip_sharp(w);
  }
  if (fused->sizes.empty()) throw std::invalid_argument(weight + ": the fused " + fused->prefix + " needs the model's sizes");
  // quip-sharp's FusedQuantizedLinear multiplies part p's outputs by fuse_scales[p]; a file without them
  // (a plain QuantizedLinear under the fused name) has none to apply.
  const std::vector<float> all = quant::dequantize_quip_sharp(w, w.fuse_scales.empty() ? std::vector<int64_t>{} : fused->sizes);
  const int64_t total = std::accumulate(fused->sizes.begin(), fused->sizes.end(), int64_t{0});
  if (w.out != total)
    throw std::invalid_argument(fused->prefix + ".SV: " + std::to_string(w.out) + " rows, the model's parts have " +
                                std::to_string(total));
  out = fused->rows;
  return {all.begin() + fused->begin * w.in, all.begin() + (fused->begin + fused->rows) * w.in};
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
