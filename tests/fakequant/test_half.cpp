// FP16 (IEEE 754-2008 binary16) and BF16 codecs: every code, round trips, ties to even at
// constructed midpoints, overflow, NaN. FP16 is also cross-checked against the compiler's _Float16
// conversion (hardware F16C / soft-float, both RNE) on random floats.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "fakequant/formats/half.h"

namespace qforge::fakequant {
namespace {

const float kInf = std::numeric_limits<float>::infinity();

double binary16_formula(uint16_t code) {
  const int m = code & 0x3FF, e = (code >> 10) & 0x1F;
  const double magnitude = e == 0 ? m * std::ldexp(1.0, -24) : (1024 + m) * std::ldexp(1.0, e - 25);
  return (code & 0x8000) ? -magnitude : magnitude;
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(decode_fp16(0x3C00), 1.0f);
  EXPECT_EQ(decode_fp16(0x7BFF), 65504.0f);
  EXPECT_EQ(decode_fp16(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(decode_fp16(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(decode_fp16(0x7C00), kInf);
  EXPECT_EQ(decode_fp16(0xFC00), -kInf);
  EXPECT_TRUE(std::isnan(decode_fp16(0x7E00)));
  EXPECT_TRUE(std::isnan(decode_fp16(0xFC01)));
  EXPECT_EQ(encode_fp16(0.1f), 0x2E66);  // 0.1 -> 0.0999755859375
  EXPECT_EQ(encode_fp16(-2.0f), 0xC000);
}

TEST(Fp16, AllCodesDecodeAndRoundTrip) {
  int nan_codes = 0;
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto code = static_cast<uint16_t>(c);
    const float value = decode_fp16(code);
    const bool nan_pattern = (c & 0x7C00) == 0x7C00 && (c & 0x3FF) != 0;
    if (nan_pattern) {
      ++nan_codes;
      ASSERT_TRUE(std::isnan(value)) << c;
      ASSERT_EQ(encode_fp16(value) & 0x7E00, 0x7E00) << c;  // quiet NaN
      continue;
    }
    if ((c & 0x7FFF) != 0x7C00) {
      ASSERT_EQ(static_cast<double>(value), binary16_formula(code)) << c;
    }
    ASSERT_EQ(encode_fp16(value), code) << c;
    ASSERT_EQ(std::bit_cast<uint32_t>(round_to_fp16(value)), std::bit_cast<uint32_t>(value)) << c;
  }
  EXPECT_EQ(nan_codes, 2 * 1023);
}

TEST(Fp16, MidpointsRoundToEven) {
  for (uint16_t low = 0; low < 0x7BFF; ++low) {
    const auto high = static_cast<uint16_t>(low + 1);
    const float mid = (decode_fp16(low) + decode_fp16(high)) / 2;  // exact in float
    const uint16_t even = (low % 2 == 0) ? low : high;
    ASSERT_EQ(encode_fp16(mid), even) << mid;
    ASSERT_EQ(encode_fp16(-mid), even | 0x8000) << mid;
    ASSERT_EQ(encode_fp16(std::nextafter(mid, 0.0f)), low) << mid;
    ASSERT_EQ(encode_fp16(std::nextafter(mid, kInf)), high) << mid;
  }
}

TEST(Fp16, OverflowUnderflowNan) {
  // 65520 is the tie between 65504 (0x7BFF, odd) and 2^16 (would be 0x7C00): it overflows to inf.
  EXPECT_EQ(encode_fp16(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
  EXPECT_EQ(encode_fp16(65520.0f), 0x7C00);
  EXPECT_EQ(encode_fp16(-1e10f), 0xFC00);
  EXPECT_EQ(encode_fp16(kInf), 0x7C00);
  EXPECT_EQ(encode_fp16(-kInf), 0xFC00);
  EXPECT_EQ(encode_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie with zero -> even (zero)
  EXPECT_EQ(encode_fp16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(encode_fp16(-1e-30f), 0x8000);
  EXPECT_TRUE(std::isnan(round_to_fp16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(round_to_fp16(std::bit_cast<float>(0x7F800001u))));  // signalling NaN
  EXPECT_EQ(round_to_fp16(1.0f + std::ldexp(1.0f, -11)), 1.0f);                 // tie -> even
  EXPECT_EQ(round_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 1.0f + std::ldexp(1.0f, -9));
}

#ifdef __FLT16_MAX__
TEST(Fp16, MatchesCompilerFloat16OnRandomBits) {
  std::mt19937 rng(3);
  int checked = 0;
  for (int i = 0; i < 2000000; ++i) {
    // Odd i: random bits (every binade); even i: magnitudes over fp16's range 2^-26..2^17.
    const float x = i % 2 ? std::bit_cast<float>(static_cast<uint32_t>(rng()))
                          : std::ldexp(static_cast<float>(rng() & 0xFFFFFF), static_cast<int>(rng() % 44) - 50);
    if (std::isnan(x)) continue;
    const auto reference = static_cast<float>(static_cast<_Float16>(x));
    ASSERT_EQ(std::bit_cast<uint32_t>(round_to_fp16(x)), std::bit_cast<uint32_t>(reference)) << x;
    ++checked;
  }
  EXPECT_GT(checked, 1900000);
}
#endif

TEST(Bf16, KnownValues) {
  EXPECT_EQ(encode_bf16(1.0f), 0x3F80);
  EXPECT_EQ(encode_bf16(-2.0f), 0xC000);
  EXPECT_EQ(decode_bf16(0x7F7F), std::bit_cast<float>(0x7F7F0000u));  // max finite ~3.3895e38
  EXPECT_EQ(encode_bf16(std::bit_cast<float>(0x7F7FFFFFu)), 0x7F80);  // FLT_MAX rounds up to inf
  EXPECT_EQ(encode_bf16(kInf), 0x7F80);
  EXPECT_EQ(encode_bf16(-kInf), 0xFF80);
  EXPECT_EQ(encode_bf16(std::bit_cast<float>(0x7F800001u)), 0x7FC0);  // sNaN with low payload -> qNaN
  EXPECT_EQ(encode_bf16(std::bit_cast<float>(0xFFC00000u)), 0xFFC0);
  EXPECT_EQ(encode_bf16(std::bit_cast<float>(0x00000001u)), 0x0000);  // f32 subnormal, below half
  EXPECT_EQ(encode_bf16(std::bit_cast<float>(0x00018000u)), 0x0002);  // subnormal tie -> even
  EXPECT_EQ(round_to_bf16(3.14159265f), 3.140625f);
}

TEST(Bf16, AllCodesRoundTripAndMidpointsRoundToEven) {
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto code = static_cast<uint16_t>(c);
    const float value = decode_bf16(code);
    ASSERT_EQ(std::bit_cast<uint32_t>(value), c << 16);
    if (std::isnan(value)) {
      ASSERT_TRUE(std::isnan(round_to_bf16(value))) << c;
      ASSERT_EQ(encode_bf16(value) & 0x40, 0x40) << c;
      continue;
    }
    ASSERT_EQ(encode_bf16(value), code) << c;
    if ((c & 0x7FFF) >= 0x7F80) continue;  // inf: no next code above
    // The f32 halfway between this code and the next one up in magnitude (same sign).
    const uint32_t mid_bits = (c << 16) | 0x8000u;
    const uint16_t even = (c % 2 == 0) ? code : static_cast<uint16_t>(c + 1);
    ASSERT_EQ(encode_bf16(std::bit_cast<float>(mid_bits)), even) << c;
    ASSERT_EQ(encode_bf16(std::bit_cast<float>(mid_bits - 1)), code) << c;
    ASSERT_EQ(encode_bf16(std::bit_cast<float>(mid_bits + 1)), static_cast<uint16_t>(c + 1)) << c;
  }
}

}  // namespace
}  // namespace qforge::fakequant
