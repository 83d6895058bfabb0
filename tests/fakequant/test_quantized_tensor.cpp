// Tensor codes (fakequant/quantized_tensor.h) for every element format, granularity, scale dtype and
// two-level scales: dequantize(quantize(x)) equals value_grid.h fake_quantize_value bit for bit,
// quantize(dequantize(q)) gives back q exactly (also exhaustively over every code of every format,
// signed zeros included), and the error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "fakequant/param_layout.h"
#include "fakequant/quantized_tensor.h"
#include "fakequant/value_grid.h"
#include "tests/support/error_of.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using namespace qforge::fakequant;
using ::testing::HasSubstr;

uint32_t bits_of(float v) { return std::bit_cast<uint32_t>(v); }

std::vector<QuantizerSpec> all_formats() {
  std::vector<QuantizerSpec> specs;
  for (int bits = 2; bits <= 8; ++bits) {
    for (bool symmetric : {true, false}) {
      QuantizerSpec spec;
      spec.bits = bits;
      spec.symmetric = symmetric;
      specs.push_back(spec);
    }
  }
  for (ElementFormat format : {ElementFormat::kFp8E4M3, ElementFormat::kFp8E5M2, ElementFormat::kFp4E2M1,
                               ElementFormat::kNf4, ElementFormat::kFp16, ElementFormat::kBf16}) {
    QuantizerSpec spec;
    spec.format = format;
    specs.push_back(spec);
  }
  return specs;
}

// Granularity variants for a [4, 6, 32] tensor; the two-level ones need per-group scales.
std::vector<QuantizerSpec> variants(const QuantizerSpec& base) {
  std::vector<QuantizerSpec> out;
  auto add = [&](GranularitySpec granularity, bool per_token, ScaleDtype dtype, int dq_bits) {
    QuantizerSpec spec = base;
    spec.granularity = granularity;
    spec.dynamic_per_token = per_token;
    spec.scale_dtype = dtype;
    spec.block_scales = {dq_bits, 4, ScaleDtype::kFp16};
    out.push_back(spec);
  };
  for (ScaleDtype dtype : {ScaleDtype::kFp32, ScaleDtype::kFp16, ScaleDtype::kBf16}) {
    add(GranularitySpec::per_tensor(), false, dtype, 0);
    for (int axis = 0; axis < 3; ++axis) add(GranularitySpec::per_channel(axis), false, dtype, 0);
    add(GranularitySpec::per_group(8), false, dtype, 0);
    add(GranularitySpec::per_group(32), true, dtype, 0);
  }
  add(GranularitySpec::per_group(8), false, ScaleDtype::kFp32, 6);
  add(GranularitySpec::per_group(16), false, ScaleDtype::kFp32, 4);
  return out;
}

// Data with outliers, exact zeros, -0.0, tiny negatives that round to -0, and ±inf.
Tensor test_data(const Shape& shape, uint64_t seed) {
  Tensor x = Tensor::randn(shape, seed, 1.5f);
  float* d = x.data();
  const float specials[] = {0.0f, -0.0f, -1e-30f, 1e-30f, 40.0f, -40.0f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 3e-3f, -7e5f};
  for (int k = 0; k < 10; ++k) d[(k * 97 + seed) % x.numel()] = specials[k];
  return x;
}

// Per-parameter ranges from the data shrunk to 0.8 x (so some elements clip) plus an offset for the
// asymmetric grids, then value_grid choose_scale; zero-size ranges get the choose_scale floor.
QuantParams params_for(const Tensor& x, const QuantizerSpec& spec) {
  const ParamLayout layout = layout_of(x.shape(), effective_granularity(x.shape(), spec), "test");
  std::vector<float> lo(layout.count, 0.0f), hi(layout.count, 0.0f);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data()[i];
    if (!std::isfinite(v) || std::fabs(v) > 30.0f) continue;  // ranges ignore the planted outliers
    const int64_t p = layout.index(i);
    lo[p] = std::min(lo[p], 0.8f * v + 0.1f);
    hi[p] = std::max(hi[p], 0.8f * v + 0.1f);
  }
  QuantParams params;
  for (int64_t p = 0; p < layout.count; ++p) {
    QuantizerSpec raw = spec;
    raw.scale_dtype = ScaleDtype::kFp32;
    const ScaleAndZeroPoint chosen = choose_scale(lo[p], hi[p], raw);
    params.scales.push_back(chosen.scale);
    params.zero_points.push_back(chosen.zero_point);
  }
  return params;
}

void expect_same(const QuantizedTensor& a, const QuantizedTensor& b, const std::string& what) {
  EXPECT_EQ(a.codes, b.codes) << what;
  EXPECT_EQ(a.params.scales, b.params.scales) << what;
  EXPECT_EQ(a.params.zero_points, b.params.zero_points) << what;
  EXPECT_EQ(a.two_level.codes, b.two_level.codes) << what;
  EXPECT_EQ(a.two_level.super_scales, b.two_level.super_scales) << what;
}

TEST(QuantizedTensor, MatchesFakeQuantizeValueAndRoundTripsForEveryFormatAndGranularity) {
  const Shape shape{4, 6, 32};
  int configs = 0;
  int64_t elements = 0;
  uint64_t seed = 1;
  for (const QuantizerSpec& base : all_formats()) {
    double max_step_error = 0.0;  // |y - x| / scale over elements inside the grid
    for (const QuantizerSpec& spec : variants(base)) {
      const std::string what = spec.describe();
      const Tensor x = test_data(shape, seed++);
      const QuantizedTensor q = quantize_tensor(x, params_for(x, spec), spec);
      const Tensor y = dequantize_tensor(q);
      const ParamLayout layout = layout_of(shape, effective_granularity(shape, spec), "test");
      const bool scaled = !q.params.scales.empty();
      for (int64_t i = 0; i < x.numel(); ++i) {
        const int64_t p = layout.index(i);
        const float expected = fake_quantize_value(x.data()[i], scaled ? q.params.scales[p] : 1.0f,
                                                   scaled ? q.params.zero_points[p] : 0, spec);
        ASSERT_EQ(bits_of(y.data()[i]), bits_of(expected)) << what << " element " << i << " x " << x.data()[i];
        const GridBounds bounds = grid_bounds(spec, scaled ? q.params.zero_points[p] : 0);
        const double scale = scaled ? q.params.scales[p] : 1.0;
        const double in_steps = x.data()[i] / scale;
        if (scaled && in_steps > bounds.low && in_steps < bounds.high) {
          max_step_error = std::max(max_step_error, std::fabs(y.data()[i] - x.data()[i]) / scale);
        }
      }
      EXPECT_EQ(q.two_level.codes.empty(), !(scaled && spec.block_scales.enabled())) << what;
      expect_same(quantize_tensor(y, q.params, spec), q, what);
      ++configs;
      elements += x.numel();
    }
    const std::string name = base.format == ElementFormat::kInt
                                 ? "int" + std::to_string(base.bits) + (base.symmetric ? " sym" : " asym")
                                 : element_format_name(base.format);
    std::printf("%-10s max |dequantized - x| / scale inside the grid: %.4g\n", name.c_str(), max_step_error);
    if (base.format == ElementFormat::kInt) {
      EXPECT_LE(max_step_error, 0.5 + 1e-5) << name;
    }
  }
  std::printf("%d configurations, %lld elements compared bit for bit\n", configs, static_cast<long long>(elements));
  EXPECT_EQ(configs, 20 * 20);
}

// Every code each format can produce, under a per-tensor scale: dequantize -> quantize is the identity.
std::vector<int32_t> valid_codes(const QuantizerSpec& spec) {
  std::vector<int32_t> codes;
  if (spec.format == ElementFormat::kInt) {
    const IntFormat format{spec.bits, spec.symmetric};
    for (int c = format.qmin(); c <= format.qmax(); ++c) codes.push_back(c);
    return codes;
  }
  const int count = spec.format == ElementFormat::kFp8E4M3 || spec.format == ElementFormat::kFp8E5M2 ? 256
                    : spec.format == ElementFormat::kFp16 || spec.format == ElementFormat::kBf16 ? 65536 : 16;
  for (int c = 0; c < count; ++c) {
    const int magnitude = c & (count / 2 - 1);
    const bool special = (spec.format == ElementFormat::kFp8E4M3 && magnitude == 0x7F) ||
                         (spec.format == ElementFormat::kFp8E5M2 && magnitude >= 0x7C) ||
                         (spec.format == ElementFormat::kFp16 && magnitude >= 0x7C00) ||
                         (spec.format == ElementFormat::kBf16 && magnitude >= 0x7F80);
    if (!special) codes.push_back(c);
  }
  return codes;
}

TEST(QuantizedTensor, EveryCodeOfEveryFormatRoundTrips) {
  int64_t total = 0;
  for (const QuantizerSpec& base : all_formats()) {
    for (float scale : {1.0f, 0.37f, 3.1e-5f, 250.0f}) {
      for (int32_t zero_point : {0, 1, 3}) {
        const bool asymmetric = base.format == ElementFormat::kInt && !base.symmetric;
        if (zero_point != 0 && !asymmetric) continue;
        QuantizerSpec spec = base;
        spec.granularity = GranularitySpec::per_tensor();
        const std::vector<int32_t> codes = valid_codes(spec);
        const Shape shape{static_cast<int64_t>(codes.size())};
        QuantizedTensor q{shape, spec, codes, {{scale}, {zero_point}}, {}};
        if (spec.format == ElementFormat::kFp16 || spec.format == ElementFormat::kBf16) q.params = {};
        const Tensor y = dequantize_tensor(q);
        const QuantizedTensor again = quantize_tensor(y, {{scale}, {zero_point}}, spec);
        ASSERT_EQ(again.codes, q.codes) << spec.describe() << " scale " << scale << " zp " << zero_point;
        total += static_cast<int64_t>(codes.size());
      }
    }
  }
  std::printf("%lld codes dequantized and quantized back unchanged\n", static_cast<long long>(total));
  EXPECT_GT(total, 2 * 4 * (65536 - 2048));
}

TEST(QuantizedTensor, SignedZeros) {
  const float tiny = std::numeric_limits<float>::denorm_min();  // rounds to zero in every format
  const Tensor x = Tensor::from_vector(Shape{1, 4}, {-0.0f, -tiny, 0.0f, tiny});
  struct Expected {
    ElementFormat format;
    int32_t negative_zero;
    int32_t positive_zero;
  };
  for (const Expected& e : {Expected{ElementFormat::kFp8E4M3, 0x80, 0x00}, Expected{ElementFormat::kFp8E5M2, 0x80, 0x00},
                            Expected{ElementFormat::kFp4E2M1, 0x8, 0x0}, Expected{ElementFormat::kFp16, 0x8000, 0x0},
                            Expected{ElementFormat::kBf16, 0x8000, 0x0}, Expected{ElementFormat::kNf4, 7, 7}}) {
    QuantizerSpec spec;
    spec.format = e.format;
    spec.granularity = GranularitySpec::per_tensor();
    const QuantizedTensor q = quantize_tensor(x, {{0.5f}, {0}}, spec);
    EXPECT_EQ(q.codes, (std::vector<int32_t>{e.negative_zero, e.negative_zero, e.positive_zero, e.positive_zero}))
        << element_format_name(e.format);
    const Tensor y = dequantize_tensor(q);
    EXPECT_EQ(std::signbit(y.data()[0]), e.format != ElementFormat::kNf4) << element_format_name(e.format);
    EXPECT_FALSE(std::signbit(y.data()[2]));
  }
  QuantizerSpec int_spec;
  int_spec.symmetric = false;
  int_spec.granularity = GranularitySpec::per_tensor();
  const QuantizedTensor q = quantize_tensor(x, {{0.5f}, {3}}, int_spec);
  EXPECT_EQ(q.codes, (std::vector<int32_t>{3, 3, 3, 3}));
  EXPECT_FALSE(std::signbit(dequantize_tensor(q).data()[0]));
}

TEST(QuantizedTensor, StoresTheScalesAFileHolds) {
  const Tensor x = Tensor::from_vector(Shape{2, 4}, {0.1f, -0.2f, 0.3f, 0.05f, 1.0f, 2.0f, -3.0f, 0.5f});
  QuantizerSpec spec;
  spec.bits = 4;
  spec.granularity = GranularitySpec::per_group(4);
  spec.scale_dtype = ScaleDtype::kFp16;
  const QuantizedTensor q = quantize_tensor(x, {{0.3f / 7, 3.0f / 7}, {0, 0}}, spec);
  // fp16(0.3/7 = 0.0428571) = 0.04284667969, fp16(3/7 = 0.428571) = 0.4284667969.
  EXPECT_EQ(q.params.scales, (std::vector<float>{0.0428466796875f, 0.428466796875f}));
  EXPECT_EQ(q.codes, (std::vector<int32_t>{2, -5, 7, 1, 2, 5, -7, 1}));
  spec.format = ElementFormat::kFp16;
  const QuantizedTensor h = quantize_tensor(Tensor::from_vector(Shape{3}, {1e6f, -INFINITY, 1.0f}), {}, spec);
  EXPECT_EQ(h.codes, (std::vector<int32_t>{0x7BFF, 0xFBFF, 0x3C00}));  // saturates at ±65504
  EXPECT_TRUE(h.params.scales.empty());
}

TEST(QuantizedTensor, Errors) {
  const Tensor x = Tensor::from_vector(Shape{2, 4}, {0.1f, -0.2f, 0.3f, 0.05f, 1.0f, 2.0f, NAN, 0.5f});
  QuantizerSpec spec;
  spec.granularity = GranularitySpec::per_channel(0);
  const QuantParams two{{0.1f, 0.1f}, {0, 0}};
  EXPECT_THAT(error_of([&] { quantize_tensor(x, {{0.1f}, {0}}, spec); }),
              HasSubstr("quantize_tensor (tensor of shape [2, 4]): needs 2 scales and zero points, got 1 scales and 1"));
  EXPECT_THAT(error_of([&] { quantize_tensor(x, {{0.1f, 0.0f}, {0, 0}}, spec); }),
              HasSubstr("quantize_tensor (tensor of shape [2, 4]): scale 1 is 0.000000, expected a positive finite"));
  EXPECT_THAT(error_of([&] { quantize_tensor(x, {{0.1f, -1.0f}, {0, 0}}, spec); }), HasSubstr("scale 1 is -1.0"));
  EXPECT_THAT(error_of([&] { quantize_tensor(x, two, spec); }),
              HasSubstr("quantize_tensor (tensor of shape [2, 4]): element 6 is NaN"));
  EXPECT_THAT(error_of([&] { quantize_tensor(x, {{0.1f, 0.1f}, {0, 5}}, spec); }),
              HasSubstr("zero point 1 is 5, expected 0 for a symmetric format"));
  spec.format = ElementFormat::kFp8E4M3;
  EXPECT_THAT(error_of([&] { quantize_tensor(x, {{0.1f, 1e-37f}, {0, 0}}, spec); }),
              HasSubstr("(tensor of shape [2, 4]): scale 1 is 0.000000, outside ["));
  spec.granularity = GranularitySpec::per_group(3);
  EXPECT_THAT(error_of([&] { quantize_tensor(x, two, spec); }),
              HasSubstr("group size 3 must be positive and divide the last dimension 4 of shape [2, 4]"));
  spec.granularity = GranularitySpec::per_channel(0);
  spec.block_scales.scale_bits = 6;
  EXPECT_THAT(error_of([&] { quantize_tensor(x, two, spec); }),
              HasSubstr("quantize_tensor (tensor of shape [2, 4]): two-level scales need per-group scales"));

  QuantizerSpec int4;
  int4.bits = 4;
  int4.granularity = GranularitySpec::per_tensor();
  QuantizedTensor q{Shape{2, 2}, int4, {1, 2, 3, 8}, {{0.5f}, {0}}, {}};
  EXPECT_THAT(error_of([&] { dequantize_tensor(q); }),
              HasSubstr("dequantize_tensor (tensor of shape [2, 2]): code 8 of element 3 is not a finite int code"));
  q.codes = {1, 2, 3};
  EXPECT_THAT(error_of([&] { dequantize_tensor(q); }), HasSubstr("3 codes for 4 elements"));
  q.codes = {1, 2, 3, 4};
  q.spec.scale_dtype = ScaleDtype::kFp16;
  q.params.scales = {0.1f};
  EXPECT_THAT(error_of([&] { dequantize_tensor(q); }),
              HasSubstr("parameter 0 (scale 0.100000, zero point 0) is not as stored; storable_params gives scale 0.099976"));
  QuantizerSpec e4m3;
  e4m3.format = ElementFormat::kFp8E4M3;
  e4m3.granularity = GranularitySpec::per_tensor();
  EXPECT_THAT(error_of([&] { dequantize_tensor({Shape{1}, e4m3, {0xFF}, {{1.0f}, {0}}, {}}); }),
              HasSubstr("code 255 of element 0 is not a finite fp8_e4m3 code"));
  QuantizerSpec dq = int4;
  dq.granularity = GranularitySpec::per_group(2);
  dq.block_scales = {4, 2, ScaleDtype::kFp16};
  QuantizedTensor with_dq = quantize_tensor(Tensor::from_vector(Shape{4}, {1, 2, 3, 4}), {{0.5f, 0.25f}, {0, 0}}, dq);
  with_dq.two_level.codes[1] += 1;
  EXPECT_THAT(error_of([&] { dequantize_tensor(with_dq); }),
              HasSubstr("params.scales differ from the two-level scales they must come from"));
}

}  // namespace
}  // namespace qforge::testing
