// The scalar value-grid reference (fakequant/value_grid.h): round_to_format against the formats/
// codecs, fake_quantize_value against the integer tensor quantizer, choose_scale for the float
// formats, round_scale, grid_bounds and format_max_magnitude.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "fakequant/formats/fp4.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"
#include "fakequant/formats/nf4.h"
#include "fakequant/int_quantizer.h"
#include "fakequant/value_grid.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using namespace qforge::fakequant;

constexpr float kInf = std::numeric_limits<float>::infinity();
uint32_t bits_of(float v) { return std::bit_cast<uint32_t>(v); }

QuantizerSpec spec_of(ElementFormat format, ScaleDtype dtype = ScaleDtype::kFp32) {
  QuantizerSpec spec;
  spec.format = format;
  spec.scale_dtype = dtype;
  return spec;
}

// decode(encode(v)) with the codec of each format; FP16/BF16 overflow saturates (value_grid.h).
float codec_round_trip(ElementFormat format, float v) {
  switch (format) {
    case ElementFormat::kFp8E4M3: return decode_e4m3(encode_e4m3(v, Fp8Mode::kSaturate));
    case ElementFormat::kFp8E5M2: return decode_e5m2(encode_e5m2(v, Fp8Mode::kSaturate));
    case ElementFormat::kFp4E2M1: return decode_e2m1(encode_e2m1(v));
    case ElementFormat::kNf4: return decode_nf4(encode_nf4(v));
    case ElementFormat::kFp16: {
      const float r = decode_fp16(encode_fp16(v));
      return std::isinf(r) ? std::copysign(65504.0f, v) : r;
    }
    case ElementFormat::kBf16: {
      const float r = decode_bf16(encode_bf16(v));
      return std::isinf(r) ? std::copysign(decode_bf16(0x7F7F), v) : r;
    }
    case ElementFormat::kInt: break;
  }
  return NAN;
}

// Every finite value of the format (sampled for fp16/bf16), the midpoints between neighbours
// (exact ties), random values over many binades, values beyond the maximum, ±inf.
std::vector<float> probe_values(ElementFormat format) {
  std::vector<float> grid;
  for (int code = 0; code < 65536; ++code) {
    float v = NAN;
    switch (format) {
      case ElementFormat::kFp8E4M3: v = code < 256 ? decode_e4m3(code) : NAN; break;
      case ElementFormat::kFp8E5M2: v = code < 256 ? decode_e5m2(code) : NAN; break;
      case ElementFormat::kFp4E2M1: v = code < 16 ? decode_e2m1(code) : NAN; break;
      case ElementFormat::kNf4: v = code < 16 ? decode_nf4(code) : NAN; break;
      case ElementFormat::kFp16: v = decode_fp16(code); break;
      case ElementFormat::kBf16: v = decode_bf16(code); break;
      case ElementFormat::kInt: break;
    }
    if (std::isfinite(v)) grid.push_back(v);
  }
  std::sort(grid.begin(), grid.end());
  std::vector<float> values = grid;
  for (size_t i = 0; i + 1 < grid.size(); ++i) values.push_back(0.5f * grid[i] + 0.5f * grid[i + 1]);
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> exponent(-30.0f, 40.0f);
  for (int i = 0; i < 20000; ++i) values.push_back((i % 2 ? -1.0f : 1.0f) * std::exp2(exponent(rng)));
  for (float v : {1e6f, -1e6f, 3e38f, -3e38f, kInf, -kInf, 0.0f, -0.0f}) values.push_back(v);
  return values;
}

TEST(ValueGrid, RoundToFormatEqualsTheCodecs) {
  for (ElementFormat format : {ElementFormat::kFp8E4M3, ElementFormat::kFp8E5M2, ElementFormat::kFp4E2M1,
                               ElementFormat::kNf4, ElementFormat::kFp16, ElementFormat::kBf16}) {
    const std::vector<float> values = probe_values(format);
    for (float v : values) {
      ASSERT_EQ(bits_of(round_to_format(format, v)), bits_of(codec_round_trip(format, v)))
          << element_format_name(format) << " v " << v;
    }
    EXPECT_TRUE(std::isnan(round_to_format(format, NAN))) << element_format_name(format);
    // ±inf saturates to the largest finite value (grid_bounds' edge).
    EXPECT_EQ(round_to_format(format, kInf), grid_bounds(spec_of(format), 0).high) << element_format_name(format);
    EXPECT_EQ(round_to_format(format, -kInf), grid_bounds(spec_of(format), 0).low) << element_format_name(format);
  }
  EXPECT_THROW(round_to_format(ElementFormat::kInt, 1.0f), std::invalid_argument);
}

TEST(ValueGrid, FakeQuantizeValueOfIntsEqualsTheIntQuantizer) {
  int64_t compared = 0;
  for (int bits = 2; bits <= 8; ++bits) {
    for (bool symmetric : {true, false}) {
      const IntFormat format{bits, symmetric};
      const GranularitySpec granularity = GranularitySpec::per_channel(1);
      const Tensor x = Tensor::randn(Shape{9, 5, 13}, 100 + bits, 2.0f);
      Tensor narrower(x.shape());
      for (int64_t i = 0; i < x.numel(); ++i) narrower.data()[i] = 0.7f * x.data()[i] - 0.2f;
      const QuantParams params = compute_scales(narrower, format, granularity);
      const Tensor expected = fake_quantize(x, params, format, granularity);
      QuantizerSpec spec;
      spec.bits = bits;
      spec.symmetric = symmetric;
      for (int64_t i = 0; i < x.numel(); ++i) {
        const int64_t p = (i / 13) % 5;
        const float got = fake_quantize_value(x.data()[i], params.scales[p], params.zero_points[p], spec);
        ASSERT_EQ(bits_of(got), bits_of(expected.data()[i])) << bits << (symmetric ? " sym" : " asym") << " i " << i;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 14 * 9 * 5 * 13);
}

TEST(ValueGrid, ChooseScaleMapsAbsmaxExactlyToTheFormatMax) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> exponent(-10.0f, 14.0f), fraction(0.0f, 1.0f);
  for (ElementFormat format : {ElementFormat::kFp8E4M3, ElementFormat::kFp8E5M2, ElementFormat::kFp4E2M1,
                               ElementFormat::kNf4}) {
    for (ScaleDtype dtype : {ScaleDtype::kFp32, ScaleDtype::kFp16, ScaleDtype::kBf16}) {
      const QuantizerSpec spec = spec_of(format, dtype);
      const float max = format_max_magnitude(spec);
      for (int t = 0; t < 2000; ++t) {
        const float absmax = std::exp2(exponent(rng));
        const bool negative_side = t % 2 == 0;  // absmax comes from the minimum or from the maximum
        const float low = negative_side ? -absmax : -fraction(rng) * absmax;
        const float high = negative_side ? fraction(rng) * absmax : absmax;
        const ScaleAndZeroPoint chosen = choose_scale(low, high, spec);
        EXPECT_EQ(chosen.zero_point, 0);
        if (absmax / max < kMinScale) {  // scale floor: absmax then maps below the maximum
          ASSERT_EQ(chosen.scale, round_scale(kMinScale, dtype));
          continue;
        }
        if (dtype == ScaleDtype::kFp32) {
          ASSERT_EQ(chosen.scale, absmax / max);
        }
        // fp16 scales that saturated at 65504, or are subnormal (< 2^-14, fewer significant bits: a
        // scale of 3.65 * 2^-24 is stored as 4 * 2^-24), do not map absmax onto the maximum.
        if (dtype == ScaleDtype::kFp16 && (chosen.scale >= 65504.0f || chosen.scale < std::ldexp(1.0f, -14))) continue;
        const float edge = negative_side ? low : high;
        ASSERT_EQ(round_to_format(format, edge / chosen.scale), std::copysign(max, edge))
            << element_format_name(format) << " " << scale_dtype_name(dtype) << " absmax " << absmax;
        ASSERT_EQ(fake_quantize_value(edge, chosen.scale, 0, spec), std::copysign(max, edge) * chosen.scale);
      }
    }
  }
  const ScaleAndZeroPoint unscaled = choose_scale(-5.0f, 7.0f, spec_of(ElementFormat::kBf16, ScaleDtype::kFp16));
  EXPECT_EQ(unscaled.scale, 1.0f);
  EXPECT_EQ(unscaled.zero_point, 0);
}

TEST(ValueGrid, RoundScaleValues) {
  EXPECT_EQ(round_scale(0.1f, ScaleDtype::kFp32), 0.1f);
  EXPECT_EQ(round_scale(0.1f, ScaleDtype::kFp16), 0.0999755859375f);  // 0x2E66
  EXPECT_EQ(round_scale(0.1f, ScaleDtype::kBf16), 0.10009765625f);    // 0x3DCD
  EXPECT_EQ(round_scale(1.0f / 3, ScaleDtype::kFp16), 0.333251953125f);
  EXPECT_EQ(round_scale(1.0f / 3, ScaleDtype::kBf16), 0.333984375f);
  // Small scales keep fp16 subnormals: 1e-6 = 16.78 * 2^-24 -> 17 * 2^-24 (not the normal floor 2^-14,
  // which would be a 61x larger scale).
  EXPECT_EQ(round_scale(1e-6f, ScaleDtype::kFp16), 17.0f * std::ldexp(1.0f, -24));
  EXPECT_EQ(round_scale(7.87e-6f, ScaleDtype::kFp16), 132.0f * std::ldexp(1.0f, -24));
  // Floors and ceilings: never 0, never inf.
  EXPECT_EQ(round_scale(1e-9f, ScaleDtype::kFp16), std::ldexp(1.0f, -24));
  EXPECT_EQ(round_scale(0.0f, ScaleDtype::kFp16), std::ldexp(1.0f, -24));
  EXPECT_EQ(round_scale(1e5f, ScaleDtype::kFp16), 65504.0f);
  EXPECT_EQ(round_scale(0.0f, ScaleDtype::kBf16), std::numeric_limits<float>::min());
  EXPECT_EQ(round_scale(std::numeric_limits<float>::max(), ScaleDtype::kBf16), decode_bf16(0x7F7F));
  EXPECT_EQ(round_scale(0.0f, ScaleDtype::kFp32), std::numeric_limits<float>::min());
  EXPECT_EQ(round_scale(kInf, ScaleDtype::kFp32), std::numeric_limits<float>::max());
  EXPECT_TRUE(std::isnan(round_scale(NAN, ScaleDtype::kFp16)));
}

TEST(ValueGrid, AsymmetricIntWithFp16ScalesKeepsZeroExact) {
  QuantizerSpec spec;
  spec.symmetric = false;
  spec.scale_dtype = ScaleDtype::kFp16;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> low_dist(-2.0f, 0.0f), high_dist(0.0f, 2.0f);
  for (int t = 0; t < 5000; ++t) {
    const float low = low_dist(rng), high = high_dist(rng);
    const ScaleAndZeroPoint chosen = choose_scale(low, high, spec);
    ASSERT_EQ(chosen.scale, round_scale(chosen.scale, ScaleDtype::kFp16));
    ASSERT_EQ(fake_quantize_value(0.0f, chosen.scale, chosen.zero_point, spec), 0.0f);
    // The grid's lowest value stays within half a step of the observed minimum.
    ASSERT_LE(std::fabs(-chosen.zero_point * chosen.scale - low), 0.5f * chosen.scale * 1.001f) << low << " " << high;
  }
}

TEST(ValueGrid, GridBoundsAndMaxMagnitudes) {
  QuantizerSpec int4;
  int4.bits = 4;
  EXPECT_EQ(grid_bounds(int4, 0).low, -8.0f);
  EXPECT_EQ(grid_bounds(int4, 0).high, 7.0f);
  EXPECT_EQ(format_max_magnitude(int4), 7.0f);
  int4.symmetric = false;
  EXPECT_EQ(grid_bounds(int4, 3).low, -3.0f);
  EXPECT_EQ(grid_bounds(int4, 3).high, 12.0f);
  EXPECT_EQ(format_max_magnitude(int4), 15.0f);
  const std::pair<ElementFormat, float> maxima[] = {{ElementFormat::kFp8E4M3, 448.0f},
                                                    {ElementFormat::kFp8E5M2, 57344.0f},
                                                    {ElementFormat::kFp4E2M1, 6.0f},
                                                    {ElementFormat::kNf4, 1.0f},
                                                    {ElementFormat::kFp16, 65504.0f},
                                                    {ElementFormat::kBf16, 3.3895313892515355e38f}};
  for (const auto& [format, max] : maxima) {
    EXPECT_EQ(grid_bounds(spec_of(format), 0).high, max) << element_format_name(format);
    EXPECT_EQ(grid_bounds(spec_of(format), 0).low, -max) << element_format_name(format);
    const bool unscaled = format == ElementFormat::kFp16 || format == ElementFormat::kBf16;
    EXPECT_EQ(format_max_magnitude(spec_of(format)), unscaled ? 1.0f : max) << element_format_name(format);
  }
}

}  // namespace
}  // namespace qforge::testing
