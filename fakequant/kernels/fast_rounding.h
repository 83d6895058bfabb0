#pragma once
// Branch-free, vectorizable versions of value_grid.h's round_to_format and of the integer grid,
// for the inner loops of the FakeQuant op. Each one is a small value type whose operator() is
// inlined into a templated loop (no std::function, no switch per element). They must agree with
// the scalar codecs (formats/*.cpp via round_to_format) bit for bit, including -0, saturation and
// NaN; tests/fakequant/test_fast_rounding.cpp checks them against those codecs on strided sweeps
// of all float bit patterns and on both neighbours of every rounding boundary.
// Internal header: include it from fakequant .cpp files only.
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

#include "fakequant/formats/nf4.h"

namespace qforge::fakequant::kernels {

// 2^e as a float32 for normal exponents (-126..127), usable in constant expressions.
constexpr float pow2(int e) { return std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23); }

// Integer grid in units of the scale, relative to the zero point: clamp(nearbyint(v), lo, hi) with
// lo = qmin - zp, hi = qmax - zp. This is quant_math.h's quantize_value followed by
// dequantize_value's (code - zp): NaN maps to the zero point (0 here), and -0 becomes +0 because
// code - zp is an integer whose float is +0.
struct IntRounding {
  // `rounded` = nearbyint(v), computed once by the caller for the clipping mask.
  static float clamp_code(float rounded, float v, float lo, float hi) {
    float r = rounded < lo ? lo : rounded;
    r = r > hi ? hi : r;
    r = v == v ? r : 0.0f;
    return r + 0.0f;
  }
};

// A binary minifloat with kMantissaBits fraction bits, exponent bias kBias, IEEE gradual underflow
// and saturation at max (E4M3, E5M2, E2M1, FP16). Normal results: round to nearest even directly
// on the float32 bit pattern (adding half an ulp minus one plus the kept lsb, then masking), a carry
// into the exponent giving the next binade exactly as formats/minifloat.cpp does. Results below the
// smallest normal are multiples of the subnormal quantum 2^(1 - bias - mantissa): nearbyint on the
// value scaled by a power of two (exact). Anything that rounds above max (including +-inf)
// saturates to +-max, the Fp8Mode::kSaturate behaviour round_to_format uses.
template <int kMantissaBits, int kBias>
struct MinifloatRounding {
  static_assert(kBias + kMantissaBits - 1 < 127, "subnormal quantum must be a normal float32");
  float max = 0.0f;

  float operator()(float v) const {
    constexpr int kDrop = 23 - kMantissaBits;
    constexpr uint32_t kHalfMinusOne = (uint32_t{1} << (kDrop - 1)) - 1;
    constexpr uint32_t kKeepMask = ~((uint32_t{1} << kDrop) - 1);
    constexpr float min_normal = pow2(1 - kBias);
    constexpr float inv_quantum = pow2(kBias + kMantissaBits - 1);
    constexpr float quantum = pow2(1 - kBias - kMantissaBits);

    const uint32_t bits = std::bit_cast<uint32_t>(v);
    const uint32_t magnitude_bits = bits & 0x7FFFFFFFu;
    const float magnitude = std::bit_cast<float>(magnitude_bits);
    const uint32_t normal_bits = (magnitude_bits + kHalfMinusOne + ((magnitude_bits >> kDrop) & 1u)) & kKeepMask;
    const float normal = std::bit_cast<float>(normal_bits);
    const float subnormal = std::nearbyint(magnitude * inv_quantum) * quantum;
    float r = magnitude < min_normal ? subnormal : normal;
    r = r > max ? max : r;
    r = std::bit_cast<float>(std::bit_cast<uint32_t>(r) | (bits & 0x80000000u));
    return v == v ? r : v;
  }
};

// Saturation thresholds: the largest |v| whose round-to-nearest-even (without saturation) is still
// at most the format's largest value, i.e. max plus half the top step, minus one float ulp where
// that tie would round up to the next (overflowing) code. They make the clipped-STE mask of a float
// format the analogue of PyTorch's integer mask ("the rounded code lies in [qmin, qmax]"), so a
// value just above max that rounds to max (e.g. x / (absmax / 448) = 448.00003) is not clipped.
// tests/fakequant/test_fast_rounding.cpp checks each against the non-saturating codecs.
inline constexpr float kE4m3Clip = 464.0f;  // 464 ties to even 448 (0x7E)
inline constexpr float kE5m2Clip = std::bit_cast<float>(uint32_t{0x476FFFFFu});  // float below 61440 (ties to inf 0x7C)
inline constexpr float kE2m1Clip = std::bit_cast<float>(uint32_t{0x40DFFFFFu});  // float below 7 (ties to the absent 8)
inline constexpr float kFp16Clip = std::bit_cast<float>(uint32_t{0x477FEFFFu});  // float below 65520 (ties to inf)
inline constexpr float kBf16Clip = std::bit_cast<float>(uint32_t{0x7F7F7FFFu});  // float below the tie with inf
// NF4 has no next code; its threshold mirrors the midpoint below 1: 1 + (1 - 0.7229568) / 2.
inline constexpr float kNf4Clip = static_cast<float>(1.0 + (1.0 - 0.7229568362236023) / 2.0);

// Ternary: 1.5 ties to even 2, past the top value 1.
inline constexpr float kTernaryClip = std::bit_cast<float>(uint32_t{0x3FBFFFFFu});  // float below 1.5

using E4m3Rounding = MinifloatRounding<3, 7>;
using E5m2Rounding = MinifloatRounding<2, 15>;
using E2m1Rounding = MinifloatRounding<1, 1>;
using Fp16Rounding = MinifloatRounding<10, 15>;

// bfloat16: formats/half.cpp's encode_bf16 rounding on the bit pattern (no subnormal special case:
// float32 subnormals round like any other pattern), then round_to_format's saturation of +-inf to
// the largest finite bf16.
struct Bf16Rounding {
  float operator()(float v) const {
    const uint32_t bits = std::bit_cast<uint32_t>(v);
    const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
    const float max = std::bit_cast<float>(uint32_t{0x7F7F0000u});
    float r = std::bit_cast<float>(rounded);
    r = r > max ? max : r;
    r = r < -max ? -max : r;
    return v == v ? r : v;
  }
};

// NF4 (QLoRA): the nearest of the 16 table values, ties to the lower code. Because the table is
// sorted, the code is the number of midpoints strictly below v; encode_nf4 compares distances in
// double, so the exact midpoint m_i = (a_i + a_{i+1}) / 2 decides. `above[i]` is the largest float
// <= m_i, and "v > m_i" equals "v > above[i]" for every float v (no float lies in (above[i], m_i]).
// The value is then picked with a select chain (blends, no gather).
struct Nf4Rounding {
  std::array<float, 15> above{};

  static Nf4Rounding make() {
    Nf4Rounding rounding;
    for (size_t i = 0; i + 1 < kNf4Values.size(); ++i) {
      const double midpoint = (static_cast<double>(kNf4Values[i]) + kNf4Values[i + 1]) / 2.0;
      float threshold = static_cast<float>(midpoint);
      if (static_cast<double>(threshold) > midpoint) threshold = std::nextafter(threshold, -1.0f);
      rounding.above[i] = threshold;
    }
    return rounding;
  }

  float operator()(float v) const {
    float r = kNf4Values[0];
    for (size_t i = 0; i < above.size(); ++i) r = v > above[i] ? kNf4Values[i + 1] : r;
    return v == v ? r : v;
  }
};

// Ternary {-1, 0, 1}: round half to even, saturate at +-1 (element_formats.cpp's Ternary codec). The
// codec has one zero code, so -0 becomes +0 (-0 + 0 = +0); NaN falls through both compares.
struct TernaryRounding {
  float operator()(float v) const {
    const float r = std::nearbyint(v);
    return (r > 1.0f ? 1.0f : (r < -1.0f ? -1.0f : r)) + 0.0f;
  }
};

}  // namespace qforge::fakequant::kernels
