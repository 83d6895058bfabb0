#pragma once
// Shared round-to-nearest-even core for the small binary float formats (FP8, FP16, FP4).
// Internal to fakequant/formats; each format file adds its own special values and overflow rule.

#include <cstdint>

namespace qforge::fakequant::detail {

// Magnitude code (exponent field << mantissa_bits | mantissa field, sign not included) of the value
// nearest to |x| in a format with `exponent_bits`, `mantissa_bits` and `bias`, IEEE-style gradual
// underflow (exponent field 0 = subnormal), ties to even. x must be finite. The result may exceed the
// largest finite code of the format: the caller decides what overflow means (inf, NaN or saturate).
// float32 subnormals (< 2^-126) always round to 0 here, which is exact for every format using this
// helper (their smallest subnormal is >= 2^-24).
uint32_t round_magnitude_rne(float x, int mantissa_bits, int bias);

// Value of a magnitude code in the same layout (no special values; the caller handles inf/NaN).
float magnitude_value(uint32_t code, int mantissa_bits, int bias);

}  // namespace qforge::fakequant::detail
