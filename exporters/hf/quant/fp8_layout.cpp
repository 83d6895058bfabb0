// compressed-tensors "float-quantized" FP8 E4M3 weights (docs/hf-quantized.md §7).
#include "exporters/hf/quant/fp8_layout.h"

#include <cfloat>
#include <cmath>
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/compressed_tensors_config.h"
#include "exporters/hf/quant/config_keys.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"

namespace qforge::exporters::hf::quant {
namespace {

constexpr float kE4m3Max = 448.0f;  // OFP8 E4M3's largest finite value

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::invalid_argument(name + ": FP8 " + what);
}

int64_t scale_count(const Fp8Weight& w, const Fp8Options& o) { return o.strategy == Fp8Strategy::kTensor ? 1 : w.out; }

bool static_activations(const Fp8Options& o) { return o.activations == Fp8Activations::kStaticTensor; }

bool positive_finite(float v) { return v > 0.0f && std::isfinite(v); }

// A float32 scale as `dtype` stores it (round to nearest even once).
float round_scale(float scale, ScaleDtype dtype) {
  switch (dtype) {
    case ScaleDtype::kF16:
      return fakequant::round_to_fp16(scale);
    case ScaleDtype::kBF16:
      return fakequant::decode_bf16(fakequant::encode_bf16(scale));
    case ScaleDtype::kF32:
      break;
  }
  return scale;
}

// torch.finfo(dtype).eps: compressed-tensors' scale for an all-zero group (calculate_qparams).
float dtype_epsilon(ScaleDtype dtype) {
  return dtype == ScaleDtype::kF16 ? 0x1p-10f : dtype == ScaleDtype::kBF16 ? 0x1p-7f : FLT_EPSILON;
}

const char* strategy_name(Fp8Strategy s) { return s == Fp8Strategy::kTensor ? "tensor" : "channel"; }

}  // namespace

void validate(const Fp8Weight& w, const Fp8Options& o) {
  if (w.name.empty()) throw std::invalid_argument("FP8: weight without a name");
  if (w.out <= 0 || w.in <= 0) fail(w.name, "shape [" + std::to_string(w.out) + ", " + std::to_string(w.in) + "]");
  if (static_cast<int64_t>(w.codes.size()) != w.out * w.in) {
    fail(w.name, "holds " + std::to_string(w.codes.size()) + " codes for a [" + std::to_string(w.out) + ", " +
                     std::to_string(w.in) + "] weight");
  }
  if (static_cast<int64_t>(w.scales.size()) != scale_count(w, o)) {
    fail(w.name, "holds " + std::to_string(w.scales.size()) + " scales, strategy " + strategy_name(o.strategy) +
                     " needs " + std::to_string(scale_count(w, o)));
  }
  for (size_t i = 0; i < w.codes.size(); ++i) {
    if ((w.codes[i] & 0x7F) == 0x7F) fail(w.name, "code " + std::to_string(i) + " is E4M3's NaN pattern");
  }
  for (size_t i = 0; i < w.scales.size(); ++i) {
    if (!positive_finite(w.scales[i]))
      fail(w.name, "scale[" + std::to_string(i) + "] = " + std::to_string(w.scales[i]));
  }
  if (w.input_scale.has_value() != static_activations(o)) {
    fail(w.name, w.input_scale ? "input scale given, but the activations are not static"
                               : "static activations need an input scale");
  }
  if (w.input_scale && !positive_finite(*w.input_scale)) fail(w.name, "input scale " + std::to_string(*w.input_scale));
}

std::vector<FileTensor> pack_fp8(const Fp8Weight& w, const Fp8Options& o) {
  validate(w, o);
  const std::vector<int64_t> scale_shape =
      o.strategy == Fp8Strategy::kTensor ? std::vector<int64_t>{1} : std::vector<int64_t>{w.out, 1};
  std::vector<FileTensor> tensors = {fp8_e4m3_tensor(w.name + ".weight", {w.out, w.in}, w.codes),
                                     scale_tensor(w.name + ".weight_scale", scale_shape, w.scales, o.scale_dtype)};
  if (w.input_scale) tensors.push_back(scale_tensor(w.name + ".input_scale", {1}, {*w.input_scale}, o.scale_dtype));
  return tensors;
}

Fp8Weight unpack_fp8(const std::string& prefix, const FileTensors& tensors, const Fp8Options& o) {
  Fp8Weight w;
  w.name = prefix;
  const FileTensor& weight = expect_tensor(tensors, prefix + ".weight", Dtype::kF8E4M3, {-1, -1});
  w.out = weight.shape[0];
  w.in = weight.shape[1];
  w.codes = uint8_of(weight);
  const std::vector<int64_t> scale_shape =
      o.strategy == Fp8Strategy::kTensor ? std::vector<int64_t>{1} : std::vector<int64_t>{w.out, 1};
  w.scales = scales_of(expect_scales(tensors, prefix + ".weight_scale", scale_shape, /*allow_f32=*/true));
  if (static_activations(o)) {
    w.input_scale = scales_of(expect_scales(tensors, prefix + ".input_scale", {1}, /*allow_f32=*/true))[0];
  } else if (tensors.count(prefix + ".input_scale") != 0) {
    throw std::invalid_argument(prefix + ".input_scale: present, but the config's activations are not static");
  }
  validate(w, o);
  return w;
}

std::vector<float> dequantize_fp8(const Fp8Weight& w) {
  std::vector<float> out(w.codes.size());
  const bool per_tensor = w.scales.size() == 1;
  for (int64_t o = 0; o < w.out; ++o) {
    const float scale = w.scales[per_tensor ? 0 : o];
    for (int64_t i = 0; i < w.in; ++i) out[o * w.in + i] = fakequant::decode_e4m3(w.codes[o * w.in + i]) * scale;
  }
  return out;
}

Fp8Weight quantize_fp8(const std::string& name, const std::vector<float>& weight, int64_t out, int64_t in,
                       const Fp8Options& o) {
  if (out <= 0 || in <= 0 || static_cast<int64_t>(weight.size()) != out * in) {
    fail(name, "float weight of " + std::to_string(weight.size()) + " values for [" + std::to_string(out) + ", " +
                   std::to_string(in) + "]");
  }
  Fp8Weight w{name, out, in, std::vector<uint8_t>(weight.size()), {}, std::nullopt};
  const int64_t groups = o.strategy == Fp8Strategy::kTensor ? 1 : out;
  const int64_t per_group = out * in / groups;
  for (int64_t g = 0; g < groups; ++g) {
    float absmax = 0.0f;
    for (int64_t k = g * per_group; k < (g + 1) * per_group; ++k) absmax = std::fmax(absmax, std::fabs(weight[k]));
    if (!std::isfinite(absmax)) fail(name, "weight is not finite");
    float scale = round_scale(absmax / kE4m3Max, o.scale_dtype);
    if (scale == 0.0f) scale = dtype_epsilon(o.scale_dtype);
    w.scales.push_back(scale);
    for (int64_t k = g * per_group; k < (g + 1) * per_group; ++k) {
      const float scaled = std::fmin(std::fmax(weight[k] / scale, -kE4m3Max), kE4m3Max);
      w.codes[k] = fakequant::encode_e4m3(scaled, fakequant::Fp8Mode::kSaturate);
    }
  }
  return w;
}

std::string fp8_config(const Fp8Options& o) {
  const CtQuantArgs weights{8, "float", true, strategy_name(o.strategy), std::nullopt, false, std::nullopt};
  nlohmann::json inputs = nullptr;
  if (o.activations != Fp8Activations::kNone) {
    const bool token = o.activations == Fp8Activations::kDynamicToken;
    inputs = ct_quant_args_json(
        {8, "float", true, token ? "token" : "tensor", std::nullopt, !static_activations(o), std::nullopt});
  }
  return ct_config("float-quantized", ct_quant_args_json(weights), inputs, o.ignore);
}

Fp8Options fp8_options(const std::string& config_json) {
  const std::string layout = kCompressedTensors;
  const nlohmann::json config = parse_config(config_json, layout);
  const nlohmann::json group = ct_single_group(config, "float-quantized");
  const nlohmann::json weights = ct_args_of(group, "weights");
  if (weights.is_null()) throw std::invalid_argument(layout + " quantization_config: key 'weights' missing");
  expect_config_string(weights, "type", "float", layout);
  if (config_value<int>(weights, "num_bits", layout) != 8) {
    throw std::invalid_argument(layout + " quantization_config: key 'num_bits' is not 8 (FP8 E4M3)");
  }
  Fp8Options o;
  const std::string strategy = config_value<std::string>(weights, "strategy", layout);
  if (strategy != "tensor" && strategy != "channel") {
    throw std::invalid_argument(layout + " quantization_config: key 'strategy' is \"" + strategy +
                                "\"; qforge reads \"tensor\" and \"channel\"");
  }
  o.strategy = strategy == "tensor" ? Fp8Strategy::kTensor : Fp8Strategy::kChannel;
  const nlohmann::json inputs = ct_args_of(group, "input_activations");
  if (inputs.is_null()) {
    o.activations = Fp8Activations::kNone;
  } else {
    const std::string s = config_value<std::string>(inputs, "strategy", layout);
    const bool dynamic = config_value_or<bool>(inputs, "dynamic", layout, false);
    if (s == "token" && dynamic) {
      o.activations = Fp8Activations::kDynamicToken;
    } else if (s == "tensor") {
      o.activations = dynamic ? Fp8Activations::kDynamicTensor : Fp8Activations::kStaticTensor;
    } else {
      throw std::invalid_argument(layout + " quantization_config: input_activations key 'strategy' is \"" + s +
                                  "\" with dynamic " + (dynamic ? "true" : "false") +
                                  "; qforge reads static or dynamic "
                                  "\"tensor\" and dynamic \"token\"");
    }
  }
  o.ignore = config_value_or<std::vector<std::string>>(config, "ignore", layout, {});
  o.scale_dtype = ScaleDtype::kBF16;  // not in the config: the unpacker reads the file's dtype
  return o;
}

}  // namespace qforge::exporters::hf::quant
