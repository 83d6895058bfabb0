#include "fakequant/quant_math.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace qforge::fakequant {

void check_format(const IntFormat& format, const char* op) {
  if (format.bits < 2 || format.bits > 8) {
    throw std::invalid_argument(std::string(op) + ": integer format needs 2..8 bits, got " +
                                std::to_string(format.bits));
  }
}

ScaleAndZeroPoint choose_scale(float min_value, float max_value, const IntFormat& format) {
  const int qmin = format.qmin(), qmax = format.qmax();
  ScaleAndZeroPoint result;
  if (format.symmetric) {
    const float max_abs = std::max(std::fabs(min_value), std::fabs(max_value));
    result.scale = std::max(max_abs / static_cast<float>(qmax), kMinScale);
    return result;
  }
  const float low = std::min(min_value, 0.0f), high = std::max(max_value, 0.0f);
  result.scale = std::max((high - low) / static_cast<float>(qmax - qmin), kMinScale);
  const float zero_point = std::nearbyint(static_cast<float>(qmin) - low / result.scale);
  result.zero_point = static_cast<int32_t>(std::clamp(zero_point, static_cast<float>(qmin), static_cast<float>(qmax)));
  return result;
}

int32_t quantize_value(float x, float inv_scale, int32_t zero_point, int qmin, int qmax) {
  // Same operation order as PyTorch's kernel: round the scaled value first, then add the zero
  // point as an integer. Clamp in float before converting so huge inputs cannot overflow int64.
  // NaN has no code; it maps to the zero point (the real value 0) rather than to undefined behaviour.
  const float scaled = std::isnan(x) ? 0.0f : std::nearbyint(x * inv_scale);
  const float clamped = std::clamp(scaled, static_cast<float>(qmin - zero_point) - 1.0f,
                                   static_cast<float>(qmax - zero_point) + 1.0f);
  const int64_t code = static_cast<int64_t>(clamped) + zero_point;
  return static_cast<int32_t>(std::clamp<int64_t>(code, qmin, qmax));
}

}  // namespace qforge::fakequant
