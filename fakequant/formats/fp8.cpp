#include "fakequant/formats/fp8.h"

#include <cmath>
#include <limits>

#include "fakequant/formats/minifloat.h"

namespace qforge::fakequant {
namespace {

constexpr int kE4m3MantissaBits = 3;
constexpr int kE4m3Bias = 7;
constexpr uint32_t kE4m3MaxCode = 0x7E;  // 0.1111.110 = 1.75 * 2^8 = 448
constexpr uint8_t kE4m3Nan = 0x7F;       // 0.1111.111, the only NaN magnitude (OFP8 Table 1)

constexpr int kE5m2MantissaBits = 2;
constexpr int kE5m2Bias = 15;
constexpr uint32_t kE5m2MaxCode = 0x7B;  // 0.11110.11 = 1.75 * 2^15 = 57344
constexpr uint8_t kE5m2Inf = 0x7C;       // 0.11111.00
constexpr uint8_t kE5m2Nan = 0x7E;       // 0.11111.10, quiet NaN as in binary16's top byte

uint8_t sign_bit(float value) { return std::signbit(value) ? 0x80 : 0x00; }

}  // namespace

uint8_t encode_e4m3(float value, Fp8Mode mode) {
  const uint8_t sign = sign_bit(value);
  if (std::isnan(value)) return sign | kE4m3Nan;
  const bool saturate = mode == Fp8Mode::kSaturate;
  if (std::isinf(value)) return sign | (saturate ? kE4m3MaxCode : kE4m3Nan);
  const uint32_t code = detail::round_magnitude_rne(value, kE4m3MantissaBits, kE4m3Bias);
  if (code > kE4m3MaxCode) return sign | (saturate ? kE4m3MaxCode : kE4m3Nan);
  return sign | static_cast<uint8_t>(code);
}

float decode_e4m3(uint8_t code) {
  const uint32_t magnitude = code & 0x7Fu;
  if (magnitude == kE4m3Nan) return std::numeric_limits<float>::quiet_NaN();
  const float value = detail::magnitude_value(magnitude, kE4m3MantissaBits, kE4m3Bias);
  return (code & 0x80u) ? -value : value;
}

uint8_t encode_e5m2(float value, Fp8Mode mode) {
  const uint8_t sign = sign_bit(value);
  if (std::isnan(value)) return sign | kE5m2Nan;
  const bool saturate = mode == Fp8Mode::kSaturate;
  if (std::isinf(value)) return sign | (saturate ? kE5m2MaxCode : kE5m2Inf);
  const uint32_t code = detail::round_magnitude_rne(value, kE5m2MantissaBits, kE5m2Bias);
  if (code > kE5m2MaxCode) return sign | (saturate ? kE5m2MaxCode : kE5m2Inf);
  return sign | static_cast<uint8_t>(code);
}

float decode_e5m2(uint8_t code) {
  const uint32_t magnitude = code & 0x7Fu;
  const bool negative = (code & 0x80u) != 0;
  if (magnitude == kE5m2Inf) {
    return negative ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  }
  if (magnitude > kE5m2Inf) return std::numeric_limits<float>::quiet_NaN();
  const float value = detail::magnitude_value(magnitude, kE5m2MantissaBits, kE5m2Bias);
  return negative ? -value : value;
}

}  // namespace qforge::fakequant
