// FP4 E2M1 (OCP MX v1.0), NF4 (QLoRA) and bitsandbytes "fp4" codecs: every code, round trips,
// nearest-value encoding on a dense sweep checked by brute force, tie rules, saturation and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "fakequant/formats/bnb_fp4.h"
#include "fakequant/formats/fp4.h"
#include "fakequant/formats/nf4.h"

namespace qforge::fakequant {
namespace {

constexpr float kE2m1Magnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

TEST(Fp4E2m1, AllCodesDecodeAndRoundTrip) {
  for (uint8_t code = 0; code < 16; ++code) {
    const float expected = (code & 8) ? -kE2m1Magnitudes[code & 7] : kE2m1Magnitudes[code & 7];
    EXPECT_EQ(decode_e2m1(code), expected) << int(code);
    EXPECT_EQ(std::signbit(decode_e2m1(code)), (code & 8) != 0) << int(code);
    EXPECT_EQ(encode_e2m1(decode_e2m1(code)), code) << int(code);
  }
}

// Brute force over the 16 codes: nearest value with the same sign, ties to the even code.
uint8_t nearest_e2m1(float x) {
  int best = 0;
  double best_distance = 1e30;
  for (int magnitude_code = 0; magnitude_code < 8; ++magnitude_code) {
    const double d = std::fabs(std::fabs(static_cast<double>(x)) - kE2m1Magnitudes[magnitude_code]);
    if (d < best_distance || (d == best_distance && magnitude_code % 2 == 0)) {
      best = magnitude_code, best_distance = d;
    }
  }
  return static_cast<uint8_t>(best | (std::signbit(x) ? 8 : 0));
}

TEST(Fp4E2m1, DenseSweepEncodesToNearest) {
  int ties = 0;
  for (int i = -8 * 4096; i <= 8 * 4096; ++i) {  // step 2^-12 over [-8, 8]: hits every midpoint
    const float x = std::ldexp(static_cast<float>(i), -12);
    ASSERT_EQ(encode_e2m1(x), nearest_e2m1(x)) << x;
    for (float m : {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f}) ties += std::fabs(x) == m;
  }
  EXPECT_EQ(ties, 14);
  // Ties to even code, spelled out: 0.25 -> 0, 0.75 -> 1.0, 1.25 -> 1.0, 1.75 -> 2, 2.5 -> 2,
  // 3.5 -> 4, 5 -> 4.
  EXPECT_EQ(decode_e2m1(encode_e2m1(0.25f)), 0.0f);
  EXPECT_EQ(decode_e2m1(encode_e2m1(0.75f)), 1.0f);
  EXPECT_EQ(decode_e2m1(encode_e2m1(1.25f)), 1.0f);
  EXPECT_EQ(decode_e2m1(encode_e2m1(1.75f)), 2.0f);
  EXPECT_EQ(decode_e2m1(encode_e2m1(2.5f)), 2.0f);
  EXPECT_EQ(decode_e2m1(encode_e2m1(3.5f)), 4.0f);
  EXPECT_EQ(decode_e2m1(encode_e2m1(-5.0f)), -4.0f);
}

TEST(Fp4E2m1, SaturatesAndRejectsNan) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(encode_e2m1(7.0f), 0x7);
  EXPECT_EQ(encode_e2m1(1e30f), 0x7);
  EXPECT_EQ(encode_e2m1(inf), 0x7);
  EXPECT_EQ(encode_e2m1(-inf), 0xF);
  EXPECT_EQ(encode_e2m1(1e-30f), 0x0);
  EXPECT_EQ(encode_e2m1(-0.0f), 0x8);
  EXPECT_THROW(encode_e2m1(std::numeric_limits<float>::quiet_NaN()), std::invalid_argument);
  EXPECT_THROW(decode_e2m1(16), std::invalid_argument);
}

TEST(Nf4, TableShapeAndRoundTrip) {
  EXPECT_EQ(decode_nf4(0), -1.0f);
  EXPECT_EQ(decode_nf4(7), 0.0f);
  EXPECT_EQ(decode_nf4(15), 1.0f);
  EXPECT_EQ(decode_nf4(8), 0.07958029955625534f);
  EXPECT_EQ(decode_nf4(1), -0.6961928009986877f);
  for (uint8_t code = 0; code < 16; ++code) {
    if (code > 0) {
      EXPECT_LT(decode_nf4(static_cast<uint8_t>(code - 1)), decode_nf4(code));
    }
    EXPECT_EQ(encode_nf4(decode_nf4(code)), code) << int(code);
  }
  EXPECT_THROW(decode_nf4(16), std::invalid_argument);
  EXPECT_THROW(encode_nf4(std::numeric_limits<float>::quiet_NaN()), std::invalid_argument);
}

TEST(Nf4, DenseSweepEncodesToNearest) {
  for (int i = -3 * 65536; i <= 3 * 65536; ++i) {  // [-1.5, 1.5] in steps of 2^-17
    const float x = std::ldexp(static_cast<float>(i), -17);
    const uint8_t code = encode_nf4(x);
    const double chosen = std::fabs(static_cast<double>(x) - decode_nf4(code));
    for (uint8_t other = 0; other < 16; ++other) {
      const double d = std::fabs(static_cast<double>(x) - decode_nf4(other));
      ASSERT_TRUE(chosen < d || (chosen == d && code <= other)) << x << " code " << int(code);
    }
  }
}

TEST(Nf4, ExactTiesGoToTheLowerCode) {
  // Halving is exact, so v/2 is an exact tie between v and 0.
  EXPECT_EQ(encode_nf4(decode_nf4(6) / 2), 6);
  EXPECT_EQ(encode_nf4(decode_nf4(8) / 2), 7);
  EXPECT_EQ(encode_nf4(std::nextafter(decode_nf4(8) / 2, 1.0f)), 8);
  EXPECT_EQ(encode_nf4(5.0f), 15);
  EXPECT_EQ(encode_nf4(-std::numeric_limits<float>::infinity()), 0);
  EXPECT_EQ(encode_nf4(std::numeric_limits<float>::infinity()), 15);
}

// bitsandbytes "fp4": the table is [0, 0.0625, 8, 12, 4, 6, 2, 3] / 12 with the signs, entry 8 +0.0.
TEST(BnbFp4, TableAndEveryCodeRoundTrips) {
  constexpr float kTwelfths[8] = {0.0f, 0.0625f, 8.0f, 12.0f, 4.0f, 6.0f, 2.0f, 3.0f};
  for (uint8_t code = 0; code < 16; ++code) {
    const float magnitude = kTwelfths[code & 7] / 12.0f;
    EXPECT_EQ(bnb_fp4_values()[code], (code & 8) && code != 8 ? -magnitude : magnitude) << int(code);
    if (code != 8) {
      EXPECT_EQ(encode_bnb_fp4(bnb_fp4_values()[code]), code) << int(code);
    }
  }
  EXPECT_FALSE(std::signbit(bnb_fp4_values()[8]));
  EXPECT_EQ(bnb_fp4_values()[1], 0.0625f / 12.0f);  // 1/192, not E2M1's 1/12
}

// dQuantizeFP4's decision tree: |x| > pivot moves up, so a value on a pivot takes the smaller magnitude and
// the next float above it the larger one.
TEST(BnbFp4, PivotsTieDownwardsAsTheCudaKernel) {
  const float pivots[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
  const uint8_t below[7] = {0, 1, 6, 7, 4, 5, 2}, above[7] = {1, 6, 7, 4, 5, 2, 3};
  for (int k = 0; k < 7; ++k) {
    EXPECT_EQ(encode_bnb_fp4(pivots[k]), below[k]) << k;
    EXPECT_EQ(encode_bnb_fp4(std::nextafter(pivots[k], 2.0f)), above[k]) << k;
    EXPECT_EQ(encode_bnb_fp4(-pivots[k]), below[k] | 8) << k;
    EXPECT_EQ(encode_bnb_fp4(-std::nextafter(pivots[k], 2.0f)), above[k] | 8) << k;
  }
  EXPECT_EQ(encode_bnb_fp4(0.0f), 0);
  EXPECT_EQ(encode_bnb_fp4(-0.0f), 0);   // x < 0 is false for -0
  EXPECT_EQ(encode_bnb_fp4(-1e-4f), 8);  // negative, below the first pivot: code 8, value +0
  EXPECT_EQ(encode_bnb_fp4(std::numeric_limits<float>::quiet_NaN()), 0);  // 0 * (1 / 0) in an all-zero block
  EXPECT_EQ(encode_bnb_fp4(1.5f), 3);
  EXPECT_EQ(encode_bnb_fp4(-1.0f), 11);
}

// Away from the pivots the tree is the nearest table value with the same sign (brute force on a sweep).
TEST(BnbFp4, NearestValueOnASweep) {
  for (int i = -4000; i <= 4000; ++i) {
    const float x = static_cast<float>(i) / 4000.0f + 1e-5f;
    int best = x < 0 ? 8 : 0;
    for (int c = 0; c < 16; ++c) {
      if ((c & 8) != (x < 0 ? 8 : 0)) continue;
      if (std::fabs(double(x) - bnb_fp4_values()[c]) < std::fabs(double(x) - bnb_fp4_values()[best])) best = c;
    }
    EXPECT_EQ(encode_bnb_fp4(x), best) << x;
  }
}

}  // namespace
}  // namespace qforge::fakequant
