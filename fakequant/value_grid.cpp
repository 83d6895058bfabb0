#include "fakequant/value_grid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fakequant/element_formats.h"
#include "fakequant/formats/half.h"  // round_to_fp16 / round_to_bf16 of stored scales

namespace qforge::fakequant {
namespace {

// Scales stored as fp16 / bf16 live on those formats' grids (65504 and (2 - 2^-7) * 2^127 at most,
// fp16 down to its smallest subnormal 2^-24).
const float kFp16Max = element_format_traits(ElementFormat::kFp16).max_magnitude;
const float kFp16MinSubnormal = element_format_traits(ElementFormat::kFp16).min_magnitude;
const float kBf16Max = element_format_traits(ElementFormat::kBf16).max_magnitude;

IntFormat int_format(const QuantizerSpec& spec) { return IntFormat{spec.bits, spec.symmetric}; }

// Nearest value of a float row to v: decode(encode(v)), where encode saturates at ±max (FP8 in
// Fp8Mode::kSaturate, FP16 / BF16 overflow at the largest finite value). NaN stays NaN.
float round_on_grid(const ElementFormatTraits& row, float v) { return std::isnan(v) ? v : row.round(v); }

}  // namespace

float format_max_magnitude(const QuantizerSpec& spec) {
  const ElementFormatTraits& row = element_format_traits(spec.format);
  if (row.is_integer()) return static_cast<float>(int_format(spec).qmax());
  return row.scaled ? row.max_magnitude : 1.0f;  // fp16 / bf16 have no scale to map onto
}

float round_to_format(ElementFormat format, float v) {
  if (std::isnan(v)) return v;
  const ElementFormatTraits& row = element_format_traits(format);
  if (row.is_integer()) {
    throw std::invalid_argument("round_to_format: integer formats round with quantize_value (quant_math.h)");
  }
  return round_on_grid(row, v);
}

float round_scale(float scale, ScaleDtype dtype) {
  constexpr float kFloatMin = std::numeric_limits<float>::min();
  constexpr float kFloatMax = std::numeric_limits<float>::max();
  switch (dtype) {
    case ScaleDtype::kFp32: return std::clamp(scale, kFloatMin, kFloatMax);
    // fp16 subnormals (down to 2^-24) are ordinary float32 normals and every fp16 reader decodes
    // them; clamping at the smallest fp16 normal 2^-14 instead inflated small scales by up to 1024x
    // (int8 activations with absmax 1e-3 need 7.9e-6, which became 6.1e-5: 8x).
    case ScaleDtype::kFp16: return std::clamp(round_to_fp16(scale), kFp16MinSubnormal, kFp16Max);
    // bf16 rounding of values near FLT_MAX overflows to inf; a stored scale must stay finite.
    case ScaleDtype::kBf16: return std::clamp(round_to_bf16(scale), kFloatMin, kBf16Max);
  }
  return scale;
}

ScaleAndZeroPoint choose_scale(float min_value, float max_value, const QuantizerSpec& spec) {
  const ElementFormatTraits& row = element_format_traits(spec.format);
  ScaleAndZeroPoint result;
  if (!row.scaled) return result;  // fp16 / bf16: scale 1, zero point 0
  if (row.is_integer()) {
    result = choose_scale(min_value, max_value, int_format(spec));
  } else {
    const float max_abs = std::max(std::fabs(min_value), std::fabs(max_value));
    result.scale = std::max(max_abs / row.max_magnitude, kMinScale);
  }
  const float stored = round_scale(result.scale, spec.scale_dtype);
  if (stored != result.scale && spec.format == ElementFormat::kInt && !spec.symmetric) {
    // Recompute the zero point for the stored scale so that 0 stays exactly representable.
    const IntFormat format = int_format(spec);
    const float low = std::min(min_value, 0.0f);
    const float zero_point = std::nearbyint(static_cast<float>(format.qmin()) - low / stored);
    result.zero_point = static_cast<int32_t>(
        std::clamp(zero_point, static_cast<float>(format.qmin()), static_cast<float>(format.qmax())));
  }
  result.scale = stored;
  return result;
}

float fake_quantize_value(float x, float scale, int32_t zero_point, const QuantizerSpec& spec) {
  const ElementFormatTraits& row = element_format_traits(spec.format);
  if (row.is_integer()) {
    const IntFormat format = int_format(spec);
    const int32_t code = quantize_value(x, 1.0f / scale, zero_point, format.qmin(), format.qmax());
    return dequantize_value(code, scale, zero_point);
  }
  if (!row.scaled) return round_on_grid(row, x);
  return scale * round_on_grid(row, x / scale);
}

GridBounds grid_bounds(const QuantizerSpec& spec, int32_t zero_point) {
  const ElementFormatTraits& row = element_format_traits(spec.format);
  if (row.is_integer()) {
    const IntFormat format = int_format(spec);
    return {static_cast<float>(format.qmin() - zero_point), static_cast<float>(format.qmax() - zero_point)};
  }
  // Scaled floats: ±max in units of the scale; fp16 / bf16: their whole finite range.
  return {-row.max_magnitude, row.max_magnitude};
}

}  // namespace qforge::fakequant
