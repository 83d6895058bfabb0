// FP8 E4M3 / E5M2 codecs against OCP OFP8 rev 1.0: every code's value, round trips, ties to even at
// constructed midpoints, saturating and non-saturating overflow, NaN handling.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"

namespace qforge::fakequant {
namespace {

using Encoder = uint8_t (*)(float, Fp8Mode);
using Decoder = float (*)(uint8_t);

struct Fp8Format {
  const char* name;
  Encoder encode;
  Decoder decode;
  int mantissa_bits;
  int bias;
  bool is_nan(uint8_t code) const {
    const int magnitude = code & 0x7F;
    return mantissa_bits == 3 ? magnitude == 0x7F : magnitude > 0x7C;
  }
  bool is_inf(uint8_t code) const { return mantissa_bits == 2 && (code & 0x7F) == 0x7C; }
};

const Fp8Format kE4m3{"e4m3", encode_e4m3, decode_e4m3, 3, 7};
const Fp8Format kE5m2{"e5m2", encode_e5m2, decode_e5m2, 2, 15};

// Independent decoder straight from the OFP8 formulas, in double.
double spec_value(const Fp8Format& f, uint8_t code) {
  const int exponent_bits = 7 - f.mantissa_bits;
  const int m = code & ((1 << f.mantissa_bits) - 1);
  const int e = (code >> f.mantissa_bits) & ((1 << exponent_bits) - 1);
  const double scale = std::ldexp(1.0, -f.mantissa_bits);
  const double magnitude = e == 0 ? m * scale * std::ldexp(1.0, 1 - f.bias)
                                  : (1.0 + m * scale) * std::ldexp(1.0, e - f.bias);
  return (code & 0x80) ? -magnitude : magnitude;
}

TEST(Fp8, KnownValuesE4m3) {
  EXPECT_EQ(decode_e4m3(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(decode_e4m3(0x80)));
  EXPECT_EQ(decode_e4m3(0x01), std::ldexp(1.0f, -9));   // min subnormal
  EXPECT_EQ(decode_e4m3(0x07), 7 * std::ldexp(1.0f, -9));  // max subnormal
  EXPECT_EQ(decode_e4m3(0x08), std::ldexp(1.0f, -6));   // min normal
  EXPECT_EQ(decode_e4m3(0x38), 1.0f);
  EXPECT_EQ(decode_e4m3(0x3F), 1.875f);
  EXPECT_EQ(decode_e4m3(0x7E), 448.0f);                 // max normal
  EXPECT_EQ(decode_e4m3(0xFE), -448.0f);
  EXPECT_EQ(decode_e4m3(0x7D), 416.0f);
  EXPECT_EQ(decode_e4m3(0x78), 256.0f);                 // S.1111.000 is a normal number in E4M3
  EXPECT_TRUE(std::isnan(decode_e4m3(0x7F)));
  EXPECT_TRUE(std::isnan(decode_e4m3(0xFF)));
}

TEST(Fp8, KnownValuesE5m2) {
  EXPECT_EQ(decode_e5m2(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(decode_e5m2(0x80)));
  EXPECT_EQ(decode_e5m2(0x01), std::ldexp(1.0f, -16));  // min subnormal
  EXPECT_EQ(decode_e5m2(0x03), 3 * std::ldexp(1.0f, -16));
  EXPECT_EQ(decode_e5m2(0x04), std::ldexp(1.0f, -14));  // min normal
  EXPECT_EQ(decode_e5m2(0x3C), 1.0f);
  EXPECT_EQ(decode_e5m2(0x7B), 57344.0f);               // max normal
  EXPECT_EQ(decode_e5m2(0xFB), -57344.0f);
  EXPECT_EQ(decode_e5m2(0x7C), std::numeric_limits<float>::infinity());
  EXPECT_EQ(decode_e5m2(0xFC), -std::numeric_limits<float>::infinity());
  for (uint8_t code : {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}) {
    EXPECT_TRUE(std::isnan(decode_e5m2(code))) << int(code);
  }
}

TEST(Fp8, AllCodesMatchSpecFormulaAndRoundTrip) {
  for (const Fp8Format* f : {&kE4m3, &kE5m2}) {
    int nan_codes = 0, inf_codes = 0;
    for (int c = 0; c < 256; ++c) {
      const auto code = static_cast<uint8_t>(c);
      const float value = f->decode(code);
      if (f->is_nan(code)) {
        ++nan_codes;
        EXPECT_TRUE(std::isnan(value)) << f->name << " " << c;
        EXPECT_TRUE(std::isnan(f->decode(f->encode(value, Fp8Mode::kSaturate))));
        continue;
      }
      if (f->is_inf(code)) {
        ++inf_codes;
        EXPECT_TRUE(std::isinf(value)) << f->name << " " << c;
        EXPECT_EQ(f->encode(value, Fp8Mode::kNonSaturating), code);
        continue;
      }
      EXPECT_EQ(static_cast<double>(value), spec_value(*f, code)) << f->name << " " << c;
      EXPECT_EQ(std::signbit(value), (c & 0x80) != 0) << f->name << " " << c;
      EXPECT_EQ(f->encode(value, Fp8Mode::kSaturate), code) << f->name << " " << c;
      EXPECT_EQ(f->encode(value, Fp8Mode::kNonSaturating), code) << f->name << " " << c;
    }
    EXPECT_EQ(nan_codes, f == &kE4m3 ? 2 : 6) << f->name;
    EXPECT_EQ(inf_codes, f == &kE4m3 ? 0 : 2) << f->name;
  }
}

TEST(Fp8, E5m2IsTheHighByteOfFp16) {
  for (int c = 0; c < 256; ++c) {
    const float e5m2 = decode_e5m2(static_cast<uint8_t>(c));
    const float fp16 = decode_fp16(static_cast<uint16_t>(c << 8));
    if (std::isnan(e5m2)) {
      EXPECT_TRUE(std::isnan(fp16)) << c;
    } else {
      EXPECT_EQ(e5m2, fp16) << c;
    }
  }
}

// Between every pair of neighbouring finite codes (including 0 -> min subnormal and the
// subnormal -> normal step) the exact midpoint goes to the even code, and one float ulp either
// side goes to the nearer code. Checked for both signs.
TEST(Fp8, MidpointsRoundToEven) {
  for (const Fp8Format* f : {&kE4m3, &kE5m2}) {
    const uint8_t max_code = f == &kE4m3 ? 0x7E : 0x7B;
    int checked = 0;
    for (uint8_t low = 0; low < max_code; ++low) {
      const auto high = static_cast<uint8_t>(low + 1);
      const float a = f->decode(low), b = f->decode(high);
      const float mid = (a + b) / 2;  // exact: both are short binary fractions
      ASSERT_EQ(static_cast<double>(mid), (static_cast<double>(a) + b) / 2);
      const uint8_t even = (low % 2 == 0) ? low : high;
      for (Fp8Mode mode : {Fp8Mode::kSaturate, Fp8Mode::kNonSaturating}) {
        EXPECT_EQ(f->encode(mid, mode), even) << f->name << " mid " << mid;
        EXPECT_EQ(f->encode(std::nextafter(mid, 0.0f), mode), low) << f->name << " below " << mid;
        EXPECT_EQ(f->encode(std::nextafter(mid, 1e9f), mode), high) << f->name << " above " << mid;
        EXPECT_EQ(f->encode(-mid, mode), even | 0x80) << f->name << " -mid " << mid;
      }
      ++checked;
    }
    EXPECT_EQ(checked, max_code);
  }
}

// Brute force: the encoder's code must be the nearest finite value (ties to the even code) for
// random floats spread over every binade in range.
TEST(Fp8, RandomValuesEncodeToNearest) {
  std::mt19937 rng(7);
  for (const Fp8Format* f : {&kE4m3, &kE5m2}) {
    const float max = f == &kE4m3 ? 448.0f : 57344.0f;
    std::uniform_real_distribution<float> log2_magnitude(-20.0f, std::log2(max));
    for (int i = 0; i < 20000; ++i) {
      const float x = std::exp2(log2_magnitude(rng)) * (i % 2 ? -1.0f : 1.0f);
      int best = -1;
      double best_distance = 1e30;
      for (int c = 0; c < 256; ++c) {
        const auto code = static_cast<uint8_t>(c);
        if (f->is_nan(code) || f->is_inf(code) || std::signbit(f->decode(code)) != std::signbit(x)) continue;
        const double d = std::fabs(static_cast<double>(f->decode(code)) - x);
        if (d < best_distance || (d == best_distance && c % 2 == 0)) best = c, best_distance = d;
      }
      ASSERT_EQ(f->encode(x, Fp8Mode::kNonSaturating), best) << f->name << " x=" << x;
    }
  }
}

TEST(Fp8, E4m3Overflow) {
  const float kInf = std::numeric_limits<float>::infinity();
  // 464 is the tie between 448 (0x7E, even) and the NaN pattern 0x7F: it rounds to 448 in both modes.
  EXPECT_EQ(encode_e4m3(464.0f, Fp8Mode::kNonSaturating), 0x7E);
  EXPECT_EQ(encode_e4m3(464.0f, Fp8Mode::kSaturate), 0x7E);
  const float above = std::nextafter(464.0f, kInf);
  EXPECT_EQ(encode_e4m3(above, Fp8Mode::kSaturate), 0x7E);
  EXPECT_EQ(encode_e4m3(above, Fp8Mode::kNonSaturating), 0x7F);
  EXPECT_EQ(encode_e4m3(-1e6f, Fp8Mode::kSaturate), 0xFE);
  EXPECT_EQ(encode_e4m3(-1e6f, Fp8Mode::kNonSaturating), 0xFF);
  EXPECT_EQ(encode_e4m3(3e38f, Fp8Mode::kSaturate), 0x7E);
  EXPECT_EQ(encode_e4m3(kInf, Fp8Mode::kSaturate), 0x7E);
  EXPECT_EQ(encode_e4m3(-kInf, Fp8Mode::kSaturate), 0xFE);
  EXPECT_EQ(encode_e4m3(kInf, Fp8Mode::kNonSaturating), 0x7F);
  EXPECT_EQ(encode_e4m3(-kInf, Fp8Mode::kNonSaturating), 0xFF);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(encode_e4m3(nan, Fp8Mode::kSaturate), 0x7F);
  EXPECT_EQ(encode_e4m3(-nan, Fp8Mode::kNonSaturating), 0xFF);
}

TEST(Fp8, E5m2Overflow) {
  const float kInf = std::numeric_limits<float>::infinity();
  // 61440 is the tie between 57344 (0x7B, odd) and the inf pattern 0x7C (even): IEEE-style overflow.
  EXPECT_EQ(encode_e5m2(std::nextafter(61440.0f, 0.0f), Fp8Mode::kNonSaturating), 0x7B);
  EXPECT_EQ(encode_e5m2(61440.0f, Fp8Mode::kNonSaturating), 0x7C);
  EXPECT_EQ(encode_e5m2(61440.0f, Fp8Mode::kSaturate), 0x7B);
  EXPECT_EQ(encode_e5m2(-1e9f, Fp8Mode::kNonSaturating), 0xFC);
  EXPECT_EQ(encode_e5m2(-1e9f, Fp8Mode::kSaturate), 0xFB);
  EXPECT_EQ(encode_e5m2(kInf, Fp8Mode::kNonSaturating), 0x7C);
  EXPECT_EQ(encode_e5m2(-kInf, Fp8Mode::kNonSaturating), 0xFC);
  EXPECT_EQ(encode_e5m2(kInf, Fp8Mode::kSaturate), 0x7B);
  EXPECT_EQ(encode_e5m2(-kInf, Fp8Mode::kSaturate), 0xFB);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (Fp8Mode mode : {Fp8Mode::kSaturate, Fp8Mode::kNonSaturating}) {
    EXPECT_TRUE(std::isnan(decode_e5m2(encode_e5m2(nan, mode))));
    EXPECT_TRUE(std::isnan(decode_e5m2(encode_e5m2(-nan, mode))));
    EXPECT_EQ(encode_e5m2(-nan, mode) & 0x80, 0x80);
  }
}

TEST(Fp8, Underflow) {
  // Half the smallest subnormal is a tie with zero (even) -> 0; anything above -> the subnormal.
  EXPECT_EQ(encode_e4m3(std::ldexp(1.0f, -10)), 0x00);
  EXPECT_EQ(encode_e4m3(std::nextafter(std::ldexp(1.0f, -10), 1.0f)), 0x01);
  EXPECT_EQ(encode_e4m3(-std::ldexp(1.0f, -10)), 0x80);
  EXPECT_EQ(encode_e5m2(std::ldexp(1.0f, -17)), 0x00);
  EXPECT_EQ(encode_e5m2(std::nextafter(std::ldexp(1.0f, -17), 1.0f)), 0x01);
  EXPECT_EQ(encode_e5m2(1e-30f), 0x00);
  EXPECT_EQ(encode_e5m2(std::bit_cast<float>(0x00000001u)), 0x00);  // f32 subnormal
  EXPECT_EQ(encode_e4m3(-0.0f), 0x80);
}

}  // namespace
}  // namespace qforge::fakequant
