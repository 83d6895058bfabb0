#pragma once
// FP4 E2M1 scalar codec, OCP Microscaling Formats (MX) Specification v1.0 §5.3.3 (element formats):
// S.EE.M, exponent bias 1, one subnormal (0.5), no infinities and no NaN.
// Code order of the magnitudes 0..7: 0, 0.5, 1, 1.5, 2, 3, 4, 6; bit 3 is the sign.
// (bitsandbytes' "fp4" is a different table, see docs/numeric.md §2.)

#include <cstdint>

namespace qforge::fakequant {

constexpr float kE2m1Max = 6.0f;

// Round to nearest, ties to the even code (e.g. 2.5 -> 2 (code 4), 3.5 -> 4 (code 6), 0.25 -> 0).
// The format has no inf, so magnitudes beyond 6 (and ±inf) saturate to ±6, as the MX spec's
// conversion to E2M1 does. NaN has no code: std::invalid_argument. Result is in the low 4 bits.
uint8_t encode_e2m1(float value);

// code must be < 16 (std::invalid_argument otherwise). Code 8 is -0.0.
float decode_e2m1(uint8_t code);

}  // namespace qforge::fakequant
