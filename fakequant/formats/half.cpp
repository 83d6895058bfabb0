#include "fakequant/formats/half.h"

#include <bit>
#include <cmath>
#include <limits>

#include "fakequant/formats/minifloat.h"

namespace qforge::fakequant {
namespace {

constexpr int kFp16MantissaBits = 10;
constexpr int kFp16Bias = 15;
constexpr uint32_t kFp16MaxCode = 0x7BFF;  // 65504
constexpr uint16_t kFp16Inf = 0x7C00;
constexpr uint16_t kFp16QuietNan = 0x7E00;

}  // namespace

uint16_t encode_fp16(float value) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0x0000;
  if (std::isnan(value)) return sign | kFp16QuietNan;
  if (std::isinf(value)) return sign | kFp16Inf;
  const uint32_t code = detail::round_magnitude_rne(value, kFp16MantissaBits, kFp16Bias);
  // IEEE 754-2008 §7.4: with round-to-nearest, overflow gives infinity with the sign of the result.
  if (code > kFp16MaxCode) return sign | kFp16Inf;
  return sign | static_cast<uint16_t>(code);
}

float decode_fp16(uint16_t code) {
  const uint32_t magnitude = code & 0x7FFFu;
  const bool negative = (code & 0x8000u) != 0;
  float value;
  if (magnitude == kFp16Inf) {
    value = std::numeric_limits<float>::infinity();
  } else if (magnitude > kFp16Inf) {
    value = std::numeric_limits<float>::quiet_NaN();
  } else {
    value = detail::magnitude_value(magnitude, kFp16MantissaBits, kFp16Bias);
  }
  return negative ? -value : value;
}

uint16_t encode_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if (std::isnan(value)) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest with ties to even; a carry into the
  // exponent is the correct next value, and rounding past the largest finite value gives inf.
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

float decode_bf16(uint16_t code) { return std::bit_cast<float>(static_cast<uint32_t>(code) << 16); }

float round_to_fp16(float value) { return decode_fp16(encode_fp16(value)); }

float round_to_bf16(float value) { return decode_bf16(encode_bf16(value)); }

}  // namespace qforge::fakequant
