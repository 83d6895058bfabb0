#include "fakequant/formats/minifloat.h"

#include <bit>
#include <cmath>

namespace qforge::fakequant::detail {

uint32_t round_magnitude_rne(float x, int mantissa_bits, int bias) {
  const uint32_t bits = std::bit_cast<uint32_t>(x) & 0x7FFFFFFFu;
  const int f32_exponent = static_cast<int>(bits >> 23);
  if (f32_exponent == 0) return 0;  // zero or f32 subnormal: below half the smallest subnormal
  const uint64_t significand = (bits & 0x7FFFFFu) | 0x800000u;  // 24 bits with the hidden one
  const int target_exponent = f32_exponent - 127 + bias;        // biased exponent in the target
  // Normal results keep `mantissa_bits` fraction bits; subnormal results (target exponent < 1)
  // shift further right so the value is expressed in units of the smallest subnormal.
  int shift = 23 - mantissa_bits;
  uint64_t exponent_field = static_cast<uint64_t>(target_exponent);
  if (target_exponent < 1) {
    shift += 1 - target_exponent;
    exponent_field = 0;
    if (shift > 25) return 0;  // below half the smallest subnormal
  }
  // For normals, drop the hidden bit and put the exponent field on top; a rounding carry out of the
  // mantissa then bumps the exponent, which is exactly the next representable value.
  uint64_t code = target_exponent < 1
                      ? (significand >> shift)
                      : ((exponent_field << mantissa_bits) | ((significand & 0x7FFFFFu) >> shift));
  const uint64_t remainder = significand & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  if (remainder > half || (remainder == half && (code & 1u))) ++code;
  return code > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(code);
}

float magnitude_value(uint32_t code, int mantissa_bits, int bias) {
  const uint32_t mantissa = code & ((1u << mantissa_bits) - 1);
  const int exponent_field = static_cast<int>(code >> mantissa_bits);
  if (exponent_field == 0) {
    return std::ldexp(static_cast<float>(mantissa), 1 - bias - mantissa_bits);
  }
  const float significand = static_cast<float>((1u << mantissa_bits) | mantissa);
  return std::ldexp(significand, exponent_field - bias - mantissa_bits);
}

}  // namespace qforge::fakequant::detail
