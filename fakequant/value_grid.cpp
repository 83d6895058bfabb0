#include "fakequant/value_grid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fakequant/formats/fp4.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"
#include "fakequant/formats/nf4.h"

namespace qforge::fakequant {
namespace {

constexpr float kFp16Max = 65504.0f;
constexpr float kFp16MinSubnormal = 5.9604644775390625e-08f;  // 2^-24
// Largest finite bfloat16: 0x7F7F = (2 - 2^-7) * 2^127.
const float kBf16Max = decode_bf16(0x7F7F);

IntFormat int_format(const QuantizerSpec& spec) { return IntFormat{spec.bits, spec.symmetric}; }

}  // namespace

float format_max_magnitude(const QuantizerSpec& spec) {
  switch (spec.format) {
    case ElementFormat::kInt: return static_cast<float>(int_format(spec).qmax());
    case ElementFormat::kFp8E4M3: return 448.0f;
    case ElementFormat::kFp8E5M2: return 57344.0f;
    case ElementFormat::kFp4E2M1: return kE2m1Max;
    case ElementFormat::kNf4: return 1.0f;
    case ElementFormat::kFp16:
    case ElementFormat::kBf16: return 1.0f;
  }
  throw std::invalid_argument("format_max_magnitude: unknown element format");
}

float round_to_format(ElementFormat format, float v) {
  if (std::isnan(v)) return v;
  switch (format) {
    case ElementFormat::kFp8E4M3: return decode_e4m3(encode_e4m3(v, Fp8Mode::kSaturate));
    case ElementFormat::kFp8E5M2: return decode_e5m2(encode_e5m2(v, Fp8Mode::kSaturate));
    case ElementFormat::kFp4E2M1: return decode_e2m1(encode_e2m1(v));
    case ElementFormat::kNf4: return decode_nf4(encode_nf4(v));
    case ElementFormat::kFp16: return std::clamp(round_to_fp16(v), -kFp16Max, kFp16Max);
    case ElementFormat::kBf16: {
      const float rounded = round_to_bf16(v);
      return std::isinf(rounded) ? std::copysign(kBf16Max, v) : rounded;
    }
    case ElementFormat::kInt: break;
  }
  throw std::invalid_argument("round_to_format: integer formats round with quantize_value (quant_math.h)");
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
  ScaleAndZeroPoint result;
  switch (spec.format) {
    case ElementFormat::kInt:
      result = choose_scale(min_value, max_value, int_format(spec));
      break;
    case ElementFormat::kFp16:
    case ElementFormat::kBf16:
      return result;  // scale 1, zero point 0
    default: {
      const float max_abs = std::max(std::fabs(min_value), std::fabs(max_value));
      result.scale = std::max(max_abs / format_max_magnitude(spec), kMinScale);
    }
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
  switch (spec.format) {
    case ElementFormat::kInt: {
      const IntFormat format = int_format(spec);
      const int32_t code = quantize_value(x, 1.0f / scale, zero_point, format.qmin(), format.qmax());
      return dequantize_value(code, scale, zero_point);
    }
    case ElementFormat::kFp16:
    case ElementFormat::kBf16:
      return round_to_format(spec.format, x);
    default:
      return scale * round_to_format(spec.format, x / scale);
  }
}

GridBounds grid_bounds(const QuantizerSpec& spec, int32_t zero_point) {
  switch (spec.format) {
    case ElementFormat::kInt: {
      const IntFormat format = int_format(spec);
      return {static_cast<float>(format.qmin() - zero_point), static_cast<float>(format.qmax() - zero_point)};
    }
    case ElementFormat::kFp16: return {-kFp16Max, kFp16Max};
    case ElementFormat::kBf16: return {-kBf16Max, kBf16Max};
    default: {
      const float max = format_max_magnitude(spec);
      return {-max, max};
    }
  }
}

}  // namespace qforge::fakequant
