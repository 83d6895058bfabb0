#include "fakequant/block_scales.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fakequant/element_formats.h"
#include "fakequant/formats/half.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {
namespace {

void check_spec(const BlockScaleSpec& spec, const char* op) {
  if (spec.scale_bits < 1 || spec.scale_bits > 8 || spec.groups_per_super_block <= 0) {
    throw std::invalid_argument(std::string(op) + ": two-level scales need 1..8 scale bits and a positive super-block "
                                "size, got " + std::to_string(spec.scale_bits) + " bits and " +
                                std::to_string(spec.groups_per_super_block) + " groups per super-block");
  }
}

void check_positive_finite(const std::vector<float>& values, const char* what, const std::string& op) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(values[i] > 0.0f) || std::isinf(values[i])) {
      throw std::invalid_argument(op + ": " + what + " " + std::to_string(i) + " is " + std::to_string(values[i]) +
                                  ", expected a positive finite value");
    }
  }
}

// Neighbouring value of a positive stored scale in its dtype (direction -1 or +1).
float dtype_step(float d, ScaleDtype dtype, int direction) {
  switch (dtype) {
    case ScaleDtype::kFp16: return decode_fp16(static_cast<uint16_t>(encode_fp16(d) + direction));
    case ScaleDtype::kBf16: return decode_bf16(static_cast<uint16_t>(encode_bf16(d) + direction));
    case ScaleDtype::kFp32: break;
  }
  return std::nextafter(d, direction < 0 ? 0.0f : std::numeric_limits<float>::infinity());
}

// A stored value of the dtype that round_scale keeps (not clamped away).
bool is_storable(float d, ScaleDtype dtype) { return std::isfinite(d) && round_scale(d, dtype) == d; }

// True when a block whose largest scale dequantizes to d * top gets d back.
bool maps_back(float d, float top, ScaleDtype dtype) {
  const float largest = d * top;
  return round_scale(largest / top, dtype) == d;
}

// Super scale of one block with largest scale s_max; see the header for the two adjustments.
float super_scale(float s_max, int top, ScaleDtype dtype) {
  const auto top_f = static_cast<float>(top);
  float d = round_scale(s_max / top_f, dtype);
  if (std::nearbyint(s_max / d) < top_f) {
    const float lower = dtype_step(d, dtype, -1);
    if (is_storable(lower, dtype)) d = lower;
  }
  if (maps_back(d, top_f, dtype)) return d;
  for (int direction : {-1, +1}) {
    const float candidate = dtype_step(d, dtype, direction);
    if (is_storable(candidate, dtype) && maps_back(candidate, top_f, dtype)) return candidate;
  }
  return d;
}

void check_zero_points(const std::vector<int32_t>& zero_points, const QuantizerSpec& spec, const std::string& op) {
  const bool asymmetric = spec.format == ElementFormat::kInt && !spec.symmetric;
  const IntFormat format{spec.bits, spec.symmetric};
  for (size_t i = 0; i < zero_points.size(); ++i) {
    const int32_t zp = zero_points[i];
    if (asymmetric ? (zp < format.qmin() || zp > format.qmax()) : zp != 0) {
      throw std::invalid_argument(op + ": zero point " + std::to_string(i) + " is " + std::to_string(zp) + ", expected " +
                                  (asymmetric ? "a value in [0, " + std::to_string(format.qmax()) + "]"
                                              : std::string("0 for a symmetric format")));
    }
  }
}

// Zero point of an asymmetric grid whose scale changed from `scale` to `stored` (header comment).
int32_t recompute_zero_point(int32_t zero_point, float scale, float stored, const IntFormat& format) {
  const auto qmin = static_cast<float>(format.qmin()), qmax = static_cast<float>(format.qmax());
  const float low = (qmin - static_cast<float>(zero_point)) * scale;
  return static_cast<int32_t>(std::clamp(std::nearbyint(qmin - low / stored), qmin, qmax));
}

}  // namespace

int64_t super_block_count(int64_t count, const BlockScaleSpec& spec) {
  check_spec(spec, "super_block_count");
  return (count + spec.groups_per_super_block - 1) / spec.groups_per_super_block;
}

TwoLevelScales quantize_scales(const std::vector<float>& scales, const BlockScaleSpec& spec) {
  check_spec(spec, "quantize_scales");
  check_positive_finite(scales, "scale", "quantize_scales");
  const int top = (1 << spec.scale_bits) - 1;
  const auto count = static_cast<int64_t>(scales.size());
  const int64_t per_block = spec.groups_per_super_block;
  TwoLevelScales result;
  result.codes.resize(scales.size());
  result.super_scales.resize(static_cast<size_t>(super_block_count(count, spec)));
  for (int64_t block = 0; block * per_block < count; ++block) {
    const int64_t begin = block * per_block, end = std::min(count, begin + per_block);
    const float s_max = *std::max_element(scales.begin() + begin, scales.begin() + end);
    const float d = super_scale(s_max, top, spec.super_scale_dtype);
    result.super_scales[block] = d;
    for (int64_t j = begin; j < end; ++j) {
      const float code = std::clamp(std::nearbyint(scales[j] / d), 1.0f, static_cast<float>(top));
      result.codes[j] = static_cast<int32_t>(code);
    }
  }
  return result;
}

std::vector<float> dequantize_scales(const TwoLevelScales& scales, const BlockScaleSpec& spec, size_t count) {
  check_spec(spec, "dequantize_scales");
  const auto blocks = static_cast<size_t>(super_block_count(static_cast<int64_t>(count), spec));
  if (scales.codes.size() != count || scales.super_scales.size() != blocks) {
    throw std::invalid_argument("dequantize_scales: " + std::to_string(count) + " group scales in super-blocks of " +
                                std::to_string(spec.groups_per_super_block) + " need " + std::to_string(count) +
                                " codes and " + std::to_string(blocks) + " super scales, got " +
                                std::to_string(scales.codes.size()) + " and " +
                                std::to_string(scales.super_scales.size()));
  }
  check_positive_finite(scales.super_scales, "super scale", "dequantize_scales");
  const int top = (1 << spec.scale_bits) - 1;
  std::vector<float> result(count);
  for (size_t j = 0; j < count; ++j) {
    const int32_t code = scales.codes[j];
    if (code < 1 || code > top) {
      throw std::invalid_argument("dequantize_scales: scale code " + std::to_string(j) + " is " +
                                  std::to_string(code) + ", outside [1, " + std::to_string(top) + "]");
    }
    result[j] = scales.super_scales[j / spec.groups_per_super_block] * static_cast<float>(code);
  }
  return result;
}

QuantParams storable_params(const QuantParams& params, const QuantizerSpec& spec, const std::string& context) {
  validate(spec, context);
  if (!element_format_traits(spec.format).scaled) return {};  // fp16 / bf16 store no scales
  if (params.zero_points.size() != params.scales.size()) {
    throw std::invalid_argument(context + ": " + std::to_string(params.scales.size()) + " scales but " +
                                std::to_string(params.zero_points.size()) + " zero points");
  }
  check_positive_finite(params.scales, "scale", context);
  check_zero_points(params.zero_points, spec, context);
  QuantParams stored = params;
  if (spec.block_scales.enabled()) {
    stored.scales = dequantize_scales(quantize_scales(params.scales, spec.block_scales), spec.block_scales,
                                      params.scales.size());
  } else {
    for (float& scale : stored.scales) scale = round_scale(scale, spec.scale_dtype);
  }
  if (spec.format == ElementFormat::kInt && !spec.symmetric) {
    const IntFormat format{spec.bits, spec.symmetric};
    for (size_t i = 0; i < stored.scales.size(); ++i) {
      if (stored.scales[i] == params.scales[i]) continue;
      stored.zero_points[i] = recompute_zero_point(params.zero_points[i], params.scales[i], stored.scales[i], format);
    }
  }
  return stored;
}

}  // namespace qforge::fakequant
