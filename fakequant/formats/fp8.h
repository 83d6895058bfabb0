#pragma once
// FP8 scalar codecs, OCP 8-bit Floating Point Specification (OFP8) rev 1.0.
//   E4M3: S.EEEE.MMM, bias 7, max 448 (0x7E), no infinities, NaN only S.1111.111 (0x7F / 0xFF).
//   E5M2: S.EEEEE.MM, bias 15, max 57344 (0x7B), IEEE-like: inf 0x7C / 0xFC, NaN e = 31, m != 0.
// Both have subnormals (exponent field 0) and signed zero. Encoding rounds to nearest, ties to even.

#include <cstdint>

namespace qforge::fakequant {

// OFP8 §5 (conversion from wider formats) defines two overflow behaviours.
enum class Fp8Mode {
  // Finite values whose rounded magnitude exceeds max become ±max. We also map ±inf to ±max in both
  // formats (as CUDA's __NV_SATFINITE does), so a saturating encode never yields inf or NaN from a
  // non-NaN input; this is the mode fake-quantization wants.
  kSaturate,
  // Overflow follows the format: E4M3 -> NaN (it has no inf), E5M2 -> ±inf. ±inf in: E4M3 -> NaN,
  // E5M2 -> ±inf.
  kNonSaturating,
};

// Overflow is decided after rounding: for E4M3 values up to 464 (the tie between 448 and the NaN
// pattern, resolved to the even code 0x7E) give 448; for E5M2 values from 61440 (tie between 57344
// and the inf pattern, resolved to the even code 0x7C) overflow, exactly like IEEE binary16.
// NaN in -> NaN out (0x7F / 0xFF for E4M3, 0x7E / 0xFE for E5M2, sign kept).
uint8_t encode_e4m3(float value, Fp8Mode mode = Fp8Mode::kSaturate);
float decode_e4m3(uint8_t code);

uint8_t encode_e5m2(float value, Fp8Mode mode = Fp8Mode::kSaturate);
float decode_e5m2(uint8_t code);

}  // namespace qforge::fakequant
