// bitsandbytes Linear8bitLt serialization (docs/hf-quantized.md §6): Linear8bitLt._save_to_state_dict
// names, int8_vectorwise_quant / int8_vectorwise_dequant, transformers' BitsAndBytesConfig.
#include "exporters/hf/quant/bitsandbytes_int8_layout.h"

#include <cmath>
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/config_keys.h"

namespace qforge::exporters::hf::quant {
namespace {

// bitsandbytes' reciprocal of 127 as int8_vectorwise_dequant writes it (a Python float, used in float32).
constexpr float kInverse127 = static_cast<float>(7.874015718698502e-3);

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::invalid_argument(name + ": bitsandbytes int8 " + what);
}

}  // namespace

void validate(const BnbInt8Weight& w) {
  if (w.name.empty()) throw std::invalid_argument("bitsandbytes int8: weight without a name");
  if (w.out <= 0 || w.in <= 0) fail(w.name, "shape [" + std::to_string(w.out) + ", " + std::to_string(w.in) + "]");
  if (static_cast<int64_t>(w.codes.size()) != w.out * w.in || static_cast<int64_t>(w.row_absmax.size()) != w.out) {
    fail(w.name, "holds " + std::to_string(w.codes.size()) + " codes and " + std::to_string(w.row_absmax.size()) +
                     " row absmax values for a [" + std::to_string(w.out) + ", " + std::to_string(w.in) + "] weight");
  }
  for (int64_t o = 0; o < w.out; ++o) {
    const float scb = w.row_absmax[o];
    if (!(scb >= 0.0f) || !std::isfinite(scb)) fail(w.name, "SCB[" + std::to_string(o) + "] = " + std::to_string(scb));
    for (int64_t i = 0; i < w.in; ++i) {
      const int8_t c = w.codes[o * w.in + i];
      // LLM.int8()'s levels are -127..127 (docs/llm-int8.md §1): -128 decodes beyond the row's absmax.
      if (c == -128)
        fail(w.name, "code -128 at [" + std::to_string(o) + ", " + std::to_string(i) + "] (levels are -127..127)");
      if (c != 0 && scb == 0.0f) fail(w.name, "row " + std::to_string(o) + " has SCB 0 but nonzero codes");
    }
  }
}

std::vector<FileTensor> pack_bnb_int8(const BnbInt8Weight& w) {
  validate(w);
  return {int8_tensor(w.name + ".weight", {w.out, w.in}, w.codes),
          float32_tensor(w.name + ".SCB", {w.out}, w.row_absmax), uint8_tensor(w.name + ".weight_format", {}, {0})};
}

BnbInt8Weight unpack_bnb_int8(const std::string& prefix, const FileTensors& tensors) {
  BnbInt8Weight w;
  w.name = prefix;
  const FileTensor& weight = expect_tensor(tensors, prefix + ".weight", Dtype::kI8, {-1, -1});
  w.out = weight.shape[0];
  w.in = weight.shape[1];
  w.codes = int8_of(weight);
  w.row_absmax = float32_of(expect_tensor(tensors, prefix + ".SCB", Dtype::kF32, {w.out}));
  const std::string format = prefix + ".weight_format";
  if (tensors.count(format) != 0) {
    const uint8_t value = uint8_of(expect_tensor(tensors, format, Dtype::kU8, {}))[0];
    if (value != 0) {
      throw std::invalid_argument(format + ": " + std::to_string(value) +
                                  " is a legacy tiled layout (col32 / col_turing / col_ampere); only 0 (row) is read");
    }
  }
  validate(w);
  return w;
}

std::vector<float> dequantize_bnb_int8(const BnbInt8Weight& w) {
  validate(w);
  std::vector<float> out(w.codes.size());
  for (int64_t o = 0; o < w.out; ++o) {
    for (int64_t i = 0; i < w.in; ++i) {
      const float product = static_cast<float>(w.codes[o * w.in + i]) * w.row_absmax[o];
      out[o * w.in + i] = product * kInverse127;
    }
  }
  return out;
}

BnbInt8Weight quantize_bnb_int8(const std::string& name, const std::vector<float>& weight, int64_t out, int64_t in) {
  if (out <= 0 || in <= 0 || static_cast<int64_t>(weight.size()) != out * in) {
    fail(name, "float weight of " + std::to_string(weight.size()) + " values for [" + std::to_string(out) + ", " +
                   std::to_string(in) + "]");
  }
  BnbInt8Weight w{name, out, in, std::vector<int8_t>(weight.size()), std::vector<float>(static_cast<size_t>(out))};
  for (int64_t o = 0; o < out; ++o) {
    float absmax = 0.0f;
    for (int64_t i = 0; i < in; ++i) absmax = std::fmax(absmax, std::fabs(weight[o * in + i]));
    if (!std::isfinite(absmax)) fail(name, "row " + std::to_string(o) + " is not finite");
    w.row_absmax[o] = absmax;
    if (absmax == 0.0f) continue;  // torch would give NaN codes; the row is all zero
    const float factor = 127.0f / absmax;
    for (int64_t i = 0; i < in; ++i) {
      w.codes[o * in + i] =
          static_cast<int8_t>(std::nearbyint(weight[o * in + i] * factor));  // torch.round: half to even
    }
  }
  return w;
}

std::string bnb_int8_config(const BnbInt8Options& o) {
  if (!(o.threshold > 0.0) || !std::isfinite(o.threshold)) {
    throw std::invalid_argument("bitsandbytes config: llm_int8_threshold " + std::to_string(o.threshold) +
                                " (expected a positive number)");
  }
  // BitsAndBytesConfig.to_dict also carries the 4-bit keys at their defaults.
  nlohmann::json c = {{"quant_method", "bitsandbytes"},
                      {"load_in_8bit", true},
                      {"load_in_4bit", false},
                      {"llm_int8_threshold", o.threshold},
                      {"llm_int8_has_fp16_weight", false},
                      {"llm_int8_enable_fp32_cpu_offload", false},
                      {"bnb_4bit_quant_type", "fp4"},
                      {"bnb_4bit_use_double_quant", false},
                      {"bnb_4bit_compute_dtype", "float32"},
                      {"bnb_4bit_quant_storage", "uint8"}};
  c["llm_int8_skip_modules"] = o.skip_modules.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.skip_modules);
  return c.dump(2);
}

BnbInt8Options bnb_int8_options(const std::string& config_json) {
  const std::string layout = "bitsandbytes";
  const nlohmann::json c = parse_config(config_json, layout);
  expect_config_string(c, "quant_method", layout, layout);
  if (!config_value_or<bool>(c, "load_in_8bit", layout, false)) {
    throw std::invalid_argument(
        "bitsandbytes quantization_config: key 'load_in_8bit' is not true (4-bit: bnb_4bit_options)");
  }
  if (config_value_or<bool>(c, "llm_int8_has_fp16_weight", layout, false)) {
    throw std::invalid_argument(
        "bitsandbytes quantization_config: key 'llm_int8_has_fp16_weight' is true (float weights)");
  }
  BnbInt8Options o;
  o.threshold = config_value_or<double>(c, "llm_int8_threshold", layout, 6.0);
  o.skip_modules = config_value_or<std::vector<std::string>>(c, "llm_int8_skip_modules", layout, {});
  return o;
}

}  // namespace qforge::exporters::hf::quant
