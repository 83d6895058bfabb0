// Two-level ("double") scale quantization (fakequant/block_scales.h): a hand-computed example,
// exact round trips of codes and super scales for every super-scale dtype and 1..8 scale bits,
// the relative scale error, storable_params (scale dtype rounding, zero points, idempotence) and
// error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "fakequant/block_scales.h"
#include "fakequant/value_grid.h"
#include "tests/support/error_of.h"

namespace qforge::testing {
namespace {

using namespace qforge::fakequant;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

BlockScaleSpec block_spec(int bits, int64_t groups, ScaleDtype dtype) { return {bits, groups, dtype}; }

// Log-uniform scales over `decades` decades below `top`, so super-blocks mix large and tiny scales.
std::vector<float> random_scales(size_t n, float top, float decades, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> exponent(-decades, 0.0f);
  std::vector<float> scales(n);
  for (float& s : scales) s = top * std::pow(10.0f, exponent(rng));
  return scales;
}

TEST(BlockScales, HandComputedFourBitCodesWithFp16SuperScales) {
  // 10 scales, super-blocks of 4 (the last one partial), codes 1..15, d in fp16.
  //  block 0: max 1.875, d = 1.875/15 = 0.125 (exact in fp16); 0.3/d = 2.4 -> 2; 0.0625/d = 0.5 ties
  //           to even 0 and is clamped to 1 (no zero scales); 1.0/d = 8.
  //  block 1: max 1.0, d = fp16(1/15) = 1092 * 2^-14 = 0.066650390625 (rounded down), so
  //           0.5/d = 7.5018 -> 8 and 1.0/d = 15.0037 -> 15; 0.2/d = 3.0007 -> 3; 0.01/d = 0.15 -> 1.
  //  block 2: max 0.003, d = fp16(0.0002) = 1678 * 2^-23; 0.0021/d = 10.498 -> 10.
  const std::vector<float> scales = {1.875f, 0.3f, 0.0625f, 1.0f, 0.01f, 1.0f, 0.5f, 0.2f, 0.003f, 0.0021f};
  const BlockScaleSpec spec = block_spec(4, 4, ScaleDtype::kFp16);
  const TwoLevelScales q = quantize_scales(scales, spec);
  EXPECT_THAT(q.codes, ElementsAre(15, 2, 1, 8, 1, 15, 8, 3, 15, 10));
  EXPECT_THAT(q.super_scales, ElementsAre(0.125f, 0.066650390625f, 1678.0f * std::ldexp(1.0f, -23)));
  EXPECT_EQ(super_block_count(10, spec), 3);
  const std::vector<float> stored = dequantize_scales(q, spec, scales.size());
  EXPECT_THAT(stored, ElementsAre(1.875f, 0.25f, 0.125f, 1.0f, 0.066650390625f, 0.999755859375f, 0.533203125f,
                                  0.199951171875f, 15 * 1678.0f * std::ldexp(1.0f, -23),
                                  10 * 1678.0f * std::ldexp(1.0f, -23)));
  const TwoLevelScales again = quantize_scales(stored, spec);
  EXPECT_EQ(again.codes, q.codes);
  EXPECT_EQ(again.super_scales, q.super_scales);
}

// Relative error bound for scales in the upper half of their block: |s - d c| <= d / 2 and
// d <= s_max / top * (1 + one dtype step), so rel <= (1/top) (1 + step); the bf16 "nudge" (d one step
// down) gives at most one dtype step for the block maximum.
double dtype_step(ScaleDtype dtype) {
  switch (dtype) {
    case ScaleDtype::kFp16: return std::ldexp(1.0, -10);
    case ScaleDtype::kBf16: return std::ldexp(1.0, -7);
    case ScaleDtype::kFp32: return std::ldexp(1.0, -23);
  }
  return 1.0;
}

TEST(BlockScales, RoundTripIsExactAndErrorIsBounded) {
  int64_t checked = 0;
  for (ScaleDtype dtype : {ScaleDtype::kFp16, ScaleDtype::kBf16, ScaleDtype::kFp32}) {
    for (int bits = 1; bits <= 8; ++bits) {
      const double top = (1 << bits) - 1;
      double max_rel_upper = 0.0, max_rel_all = 0.0;
      for (int64_t groups : {1, 3, 8, 16}) {
        const BlockScaleSpec spec = block_spec(bits, groups, dtype);
        // 1001 scales (partial last block), spanning 4 decades; then tiny ones that hit fp16's
        // 2^-24 floor and huge ones that hit its 65504 ceiling.
        const uint64_t seed = 1000 * bits + groups + 7 * static_cast<int>(dtype);
        for (float top_scale : {0.05f, 3.0f, 1e-6f, 1e7f}) {
          const std::vector<float> scales = random_scales(1001, top_scale, 4.0f, seed);
          const TwoLevelScales q = quantize_scales(scales, spec);
          const std::vector<float> stored = dequantize_scales(q, spec, scales.size());
          const TwoLevelScales again = quantize_scales(stored, spec);
          ASSERT_EQ(again.codes, q.codes) << "bits " << bits << " groups " << groups << " top " << top_scale;
          ASSERT_EQ(again.super_scales, q.super_scales) << "bits " << bits << " groups " << groups;
          if (top_scale != 0.05f && top_scale != 3.0f) continue;  // error bound only away from clamps
          for (size_t j = 0; j < scales.size(); ++j) {
            const double d = q.super_scales[j / groups];
            // fp16 subnormal super scales (d < 2^-14) have fewer significant bits: no bound there.
            if (dtype == ScaleDtype::kFp16 && d < std::ldexp(1.0, -14)) continue;
            const size_t begin = j / groups * groups, end = std::min(scales.size(), begin + groups);
            const float s_max = *std::max_element(scales.begin() + begin, scales.begin() + end);
            const double rel = std::fabs(static_cast<double>(stored[j]) - scales[j]) / scales[j];
            max_rel_all = std::max(max_rel_all, rel);
            if (scales[j] >= 0.5f * s_max) max_rel_upper = std::max(max_rel_upper, rel);
            if (q.codes[j] > 1 && q.codes[j] < top) {
              ASSERT_LE(std::fabs(stored[j] - scales[j]), 0.5 * d * (1 + 1e-6));
            }
            ++checked;
          }
        }
      }
      std::printf("%s super scale, %d-bit codes: max rel scale error %.4f (upper half of block, bound %.4f), "
                  "%.3g over all scales\n", scale_dtype_name(dtype).c_str(), bits, max_rel_upper,
                  (1.0 / top) * (1 + dtype_step(dtype)) + dtype_step(dtype), max_rel_all);
      EXPECT_LE(max_rel_upper, (1.0 / top) * (1 + dtype_step(dtype)) + dtype_step(dtype));
    }
  }
  EXPECT_GT(checked, 3 * 8 * 4 * 1001);
}

TEST(BlockScales, Bf16NudgeKeepsTheTopCodeForTheBlockMaximum) {
  // s_max / 255 = 1.0047 rounds (RNE) up to the bf16 value 1.0078125; the maximum would get code
  // round(254.2) = 254 and the round trip would change d. d moves down to 1.0 instead.
  const float s_max = 255.0f * 1.0046875f;
  const BlockScaleSpec spec = block_spec(8, 2, ScaleDtype::kBf16);
  const TwoLevelScales q = quantize_scales({s_max, 100.0f}, spec);
  EXPECT_EQ(q.super_scales[0], 1.0f);
  EXPECT_THAT(q.codes, ElementsAre(255, 100));
  const TwoLevelScales again = quantize_scales(dequantize_scales(q, spec, 2), spec);
  EXPECT_EQ(again.super_scales, q.super_scales);
  EXPECT_EQ(again.codes, q.codes);
}

TEST(BlockScales, StorableParamsRoundsToTheScaleDtype) {
  QuantizerSpec spec;
  spec.granularity = GranularitySpec::per_channel(0);
  spec.scale_dtype = ScaleDtype::kFp16;
  const QuantParams stored = storable_params({{0.1f, 3e-6f}, {0, 0}}, spec);
  EXPECT_THAT(stored.scales, ElementsAre(0.0999755859375f, 50.0f * std::ldexp(1.0f, -24)));
  spec.format = ElementFormat::kBf16;
  EXPECT_TRUE(storable_params({{0.1f}, {0}}, spec).scales.empty());  // fp16/bf16 store no scales
}

TEST(BlockScales, StorableParamsRecomputesAsymmetricZeroPoints) {
  // int8 asym, two scales in one 4-bit super-block: d = fp16(1/15) = 0.066650390625,
  // 0.3 / d = 4.501 -> code 5, stored scale 0.333251953125. The grid of the second parameter
  // started at (0 - 100) * 0.3 = -30, so zp' = nearbyint(30 / 0.33325) = nearbyint(90.02) = 90.
  QuantizerSpec spec;
  spec.symmetric = false;
  spec.granularity = GranularitySpec::per_group(32);
  spec.block_scales = block_spec(4, 8, ScaleDtype::kFp16);
  const QuantParams stored = storable_params({{1.0f, 0.3f}, {7, 100}}, spec);
  EXPECT_THAT(stored.scales, ElementsAre(0.999755859375f, 0.333251953125f));
  EXPECT_THAT(stored.zero_points, ElementsAre(7, 90));
  EXPECT_EQ(fake_quantize_value(0.0f, stored.scales[1], stored.zero_points[1], spec), 0.0f);
}

TEST(BlockScales, StorableParamsIsIdempotent) {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> zp_dist(0, 255);
  for (ScaleDtype dtype : {ScaleDtype::kFp32, ScaleDtype::kFp16, ScaleDtype::kBf16}) {
    for (int dq_bits : {0, 4, 6, 8}) {
      QuantizerSpec spec;
      spec.symmetric = false;
      spec.granularity = GranularitySpec::per_group(16);
      spec.scale_dtype = dtype;
      spec.block_scales = block_spec(dq_bits, 8, dtype);
      QuantParams params{random_scales(333, 0.02f, 3.0f, 11 + dq_bits), {}};
      for (size_t i = 0; i < params.scales.size(); ++i) params.zero_points.push_back(zp_dist(rng));
      const QuantParams once = storable_params(params, spec);
      const QuantParams twice = storable_params(once, spec);
      EXPECT_EQ(twice.scales, once.scales) << scale_dtype_name(dtype) << " dq" << dq_bits;
      EXPECT_EQ(twice.zero_points, once.zero_points) << scale_dtype_name(dtype) << " dq" << dq_bits;
    }
  }
}

// storable_params only sees (scale, zp), not the observed minimum; compare its zero points with
// choose_scale's, which recomputes from the exact minimum: both put the low edge of the stored grid
// within one step of the observed minimum (choose_scale within half a step).
TEST(BlockScales, StorableZeroPointsAgreeWithChooseScale) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> low_dist(-3.0f, 0.0f), high_dist(0.0f, 3.0f);
  for (ScaleDtype dtype : {ScaleDtype::kFp16, ScaleDtype::kBf16}) {
    QuantizerSpec fp32_spec;
    fp32_spec.symmetric = false;
    QuantizerSpec spec = fp32_spec;
    spec.scale_dtype = dtype;
    int differing = 0, trials = 20000;
    for (int t = 0; t < trials; ++t) {
      const float low = low_dist(rng), high = high_dist(rng);
      const ScaleAndZeroPoint raw = choose_scale(low, high, fp32_spec);
      const ScaleAndZeroPoint direct = choose_scale(low, high, spec);
      const QuantParams stored = storable_params({{raw.scale}, {raw.zero_point}}, spec);
      ASSERT_EQ(stored.scales[0], direct.scale);
      ASSERT_LE(std::abs(stored.zero_points[0] - direct.zero_point), 1);
      const float step = direct.scale;
      ASSERT_LE(std::fabs(-stored.zero_points[0] * step - low), 1.01f * step) << low << " " << high;
      ASSERT_LE(std::fabs(-direct.zero_point * step - low), 0.501f * step) << low << " " << high;
      differing += stored.zero_points[0] != direct.zero_point;
    }
    std::printf("%s scales, int8 asym: storable_params zero point differs (by 1) from choose_scale's in %d of %d "
                "ranges\n", scale_dtype_name(dtype).c_str(), differing, trials);
  }
}

TEST(BlockScales, Errors) {
  const BlockScaleSpec spec = block_spec(4, 4, ScaleDtype::kFp16);
  EXPECT_THAT(error_of([&] { quantize_scales({1.0f, 0.0f}, spec); }), HasSubstr("scale 1 is 0.000000, expected a positive"));
  EXPECT_THAT(error_of([&] { quantize_scales({1.0f, -2.0f}, spec); }), HasSubstr("scale 1 is -2.0"));
  EXPECT_THAT(error_of([&] { quantize_scales({NAN}, spec); }), HasSubstr("scale 0 is nan"));
  EXPECT_THAT(error_of([&] { quantize_scales({1.0f}, block_spec(9, 4, ScaleDtype::kFp16)); }),
              HasSubstr("1..8 scale bits and a positive super-block size, got 9 bits"));
  EXPECT_THAT(error_of([&] { quantize_scales({1.0f}, block_spec(0, 4, ScaleDtype::kFp16)); }), HasSubstr("got 0 bits"));
  const TwoLevelScales q = quantize_scales({1.0f, 0.5f, 0.25f, 0.1f, 0.3f}, spec);
  EXPECT_THAT(error_of([&] { dequantize_scales(q, spec, 4); }), HasSubstr("need 4 codes and 1 super scales, got 5 and 2"));
  TwoLevelScales zero_code = q;
  zero_code.codes[3] = 0;
  EXPECT_THAT(error_of([&] { dequantize_scales(zero_code, spec, 5); }), HasSubstr("scale code 3 is 0, outside [1, 15]"));
  TwoLevelScales bad_super = q;
  bad_super.super_scales[1] = -1.0f;
  EXPECT_THAT(error_of([&] { dequantize_scales(bad_super, spec, 5); }), HasSubstr("super scale 1 is -1.0"));

  QuantizerSpec per_channel;
  per_channel.granularity = GranularitySpec::per_channel(0);
  per_channel.block_scales = spec;
  EXPECT_THAT(error_of([&] { storable_params({{1.0f}, {0}}, per_channel); }),
              HasSubstr("storable_params: two-level scales need per-group scales"));
  QuantizerSpec grouped;
  grouped.granularity = GranularitySpec::per_group(32);
  EXPECT_THAT(error_of([&] { storable_params({{1.0f, 2.0f}, {0}}, grouped); }), HasSubstr("2 scales but 1 zero points"));
  EXPECT_THAT(error_of([&] { storable_params({{1.0f}, {3}}, grouped); }),
              HasSubstr("zero point 0 is 3, expected 0 for a symmetric format"));
  grouped.symmetric = false;
  grouped.bits = 4;
  EXPECT_THAT(error_of([&] { storable_params({{1.0f}, {16}}, grouped); }),
              HasSubstr("zero point 0 is 16, expected a value in [0, 15]"));
}

}  // namespace
}  // namespace qforge::testing
