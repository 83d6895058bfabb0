#include "fakequant/formats/fp4.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "fakequant/formats/minifloat.h"

namespace qforge::fakequant {
namespace {

constexpr int kE2m1MantissaBits = 1;
constexpr int kE2m1Bias = 1;
constexpr uint32_t kE2m1MaxCode = 0x7;  // 1.11 = 1.5 * 2^2 = 6

}  // namespace

uint8_t encode_e2m1(float value) {
  if (std::isnan(value)) throw std::invalid_argument("encode_e2m1: NaN has no E2M1 code");
  const uint8_t sign = std::signbit(value) ? 0x8 : 0x0;
  if (std::isinf(value)) return sign | kE2m1MaxCode;
  const uint32_t code = detail::round_magnitude_rne(value, kE2m1MantissaBits, kE2m1Bias);
  return sign | static_cast<uint8_t>(code > kE2m1MaxCode ? kE2m1MaxCode : code);
}

float decode_e2m1(uint8_t code) {
  if (code > 0xF) {
    throw std::invalid_argument("decode_e2m1: code must be < 16, got " + std::to_string(code));
  }
  const float value = detail::magnitude_value(code & 0x7u, kE2m1MantissaBits, kE2m1Bias);
  return (code & 0x8u) ? -value : value;
}

}  // namespace qforge::fakequant
