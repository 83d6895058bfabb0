// Integer quantization math (fakequant/int_quantizer.h): parity with PyTorch 1.13's
// torch.fake_quantize_per_tensor_affine / torch.fake_quantize_per_channel_affine on random tensors
// for every bit width 2..8, symmetric and asymmetric, with identical scales and zero points;
// exact code round trips; per-group reconstruction error; scale selection; error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "fakequant/int_quantizer.h"
#include "tests/support/error_of.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using namespace qforge::fakequant;
using ::testing::HasSubstr;

std::vector<double> as_doubles(const Tensor& t) {
  const auto v = t.to_vector();
  return {v.begin(), v.end()};
}

template <class T>
std::vector<double> as_doubles(const std::vector<T>& v) {
  return {v.begin(), v.end()};
}

struct ParityCase {
  std::string name;
  Tensor x;
  QuantParams params;
  IntFormat format;
  GranularitySpec spec;
};

// Scales come from a narrower range than the data (0.8 x) so some elements clamp at qmin/qmax.
ParityCase make_case(const Shape& shape, const IntFormat& format, const GranularitySpec& spec, uint64_t seed) {
  Tensor x = Tensor::randn(shape, seed, 2.0f);
  Tensor narrower(shape);
  for (int64_t i = 0; i < x.numel(); ++i) narrower.data()[i] = 0.8f * x.data()[i] + 0.3f;
  const std::string granularity = spec.kind == Granularity::kPerTensor ? "tensor" : "axis" + std::to_string(spec.axis);
  return {std::to_string(format.bits) + (format.symmetric ? "sym_" : "asym_") + granularity + "_" + std::to_string(seed),
          x, compute_scales(narrower, format, spec), format, spec};
}

std::vector<ParityCase> parity_cases() {
  std::vector<ParityCase> cases;
  uint64_t seed = 1;
  for (int bits = 2; bits <= 8; ++bits) {
    for (bool symmetric : {true, false}) {
      const IntFormat format{bits, symmetric};
      cases.push_back(make_case(Shape{7, 33}, format, GranularitySpec::per_tensor(), seed++));
      cases.push_back(make_case(Shape{7, 33}, format, GranularitySpec::per_channel(0), seed++));
      cases.push_back(make_case(Shape{7, 33}, format, GranularitySpec::per_channel(1), seed++));
      cases.push_back(make_case(Shape{3, 5, 11}, format, GranularitySpec::per_channel(1), seed++));
    }
  }
  // Exact ties (scale a power of two): round half to even must match torch's nearbyint.
  Tensor ties = Tensor::from_vector(Shape{10}, {0.125f, 0.375f, 0.625f, -0.125f, -0.375f, -0.625f, 1.125f, 0.0f, 5.0f, -5.0f});
  cases.push_back({"ties_sym", ties, {{0.25f}, {0}}, {4, true}, GranularitySpec::per_tensor()});
  cases.push_back({"ties_asym", ties, {{0.25f}, {3}}, {4, false}, GranularitySpec::per_tensor()});
  return cases;
}

TEST(IntQuantizer, FakeQuantizeMatchesTorchAffineOps) {
  const auto cases = parity_cases();
  TensorFile request;
  for (const auto& c : cases) {
    const std::string key = "fq/" + c.name + "/";
    request.put(key + "x", c.x.shape().to_vector(), as_doubles(c.x));
    const auto n = static_cast<int64_t>(c.params.scales.size());
    request.put(key + "scale", {n}, as_doubles(c.params.scales));
    request.put(key + "zero_point", {n}, as_doubles(c.params.zero_points));
    request.put(key + "range", {2}, {double(c.format.qmin()), double(c.format.qmax())});
    request.put(key + "axis", {1}, {c.spec.kind == Granularity::kPerTensor ? -1.0 : double(c.spec.axis)});
  }
  const TensorFile answer = run_torch_script("tests/fakequant/int_reference.py", request, "fq_int");
  double worst = 0.0;
  int64_t clamped = 0, compared = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Tensor ours = fake_quantize(c.x, c.params, c.format, c.spec);
    const std::vector<int32_t> codes = quantize(c.x, c.params, c.format, c.spec);
    const auto& expected = answer.tensor("fq/" + c.name + "/y").values;
    ASSERT_EQ(expected.size(), static_cast<size_t>(ours.numel()));
    for (int64_t i = 0; i < ours.numel(); ++i) {
      const double error = std::fabs(ours.data()[i] - expected[i]);
      worst = std::max(worst, error);
      ASSERT_LE(error, 1e-6) << "element " << i << " x=" << c.x.data()[i];
      clamped += codes[i] == c.format.qmin() || codes[i] == c.format.qmax();
      ++compared;
    }
  }
  std::printf("fake_quantize vs torch: %zu cases, %lld elements (%lld at qmin/qmax), max abs error %.3g\n",
              cases.size(), static_cast<long long>(compared), static_cast<long long>(clamped), worst);
  EXPECT_GT(clamped, 0);  // the clamp path was exercised
}

TEST(IntQuantizer, RoundsHalfToEven) {
  const Tensor x = Tensor::from_vector(Shape{6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f});
  const auto codes = quantize(x, {{1.0f}, {0}}, {8, true}, GranularitySpec::per_tensor());
  EXPECT_EQ(codes, (std::vector<int32_t>{0, 2, 2, 0, -2, -2}));
}

// Every code of every format survives dequantize -> quantize bit for bit, under scales chosen
// from random data for each granularity.
TEST(IntQuantizer, QuantizeOfDequantizeReturnsEveryCode) {
  const Shape shape{6, 256};
  const std::vector<GranularitySpec> specs = {GranularitySpec::per_tensor(), GranularitySpec::per_channel(0),
                                              GranularitySpec::per_channel(1), GranularitySpec::per_group(32)};
  int64_t checked = 0;
  for (int bits = 2; bits <= 8; ++bits) {
    for (bool symmetric : {true, false}) {
      const IntFormat format{bits, symmetric};
      const int levels = format.qmax() - format.qmin() + 1;
      std::vector<int32_t> codes(shape.numel());
      // Offsetting by the row makes every parameter slice see every code.
      for (int64_t i = 0; i < shape.numel(); ++i) codes[i] = format.qmin() + static_cast<int32_t>((i + i / 256) % levels);
      for (const auto& spec : specs) {
        const QuantParams params = compute_scales(Tensor::randn(shape, 100 + bits, 3.0f), format, spec);
        const Tensor real = dequantize(codes, shape, params, spec);
        ASSERT_EQ(quantize(real, params, format, spec), codes) << bits << " bits, symmetric " << symmetric;
        checked += shape.numel();
      }
    }
  }
  std::printf("round trip: %lld codes identical\n", static_cast<long long>(checked));
}

// Per-group scales from min/max reconstruct every element within half a step of its group.
TEST(IntQuantizer, PerGroupReconstructsWithinHalfAScale) {
  const Shape shape{8, 256};
  const Tensor x = Tensor::randn(shape, 7, 1.5f);
  for (int64_t group : {32, 64, 128}) {
    for (int bits = 2; bits <= 8; ++bits) {
      for (bool symmetric : {true, false}) {
        const IntFormat format{bits, symmetric};
        const auto spec = GranularitySpec::per_group(group);
        const QuantParams params = compute_scales(x, format, spec);
        ASSERT_EQ(static_cast<int64_t>(params.scales.size()), shape.numel() / group);
        ASSERT_EQ(parameter_count(shape, spec), shape.numel() / group);
        const Tensor y = fake_quantize(x, params, format, spec);
        double worst_ratio = 0.0;
        for (int64_t i = 0; i < x.numel(); ++i) {
          const float scale = params.scales[i / group];
          worst_ratio = std::max(worst_ratio, std::fabs(double(y.data()[i]) - x.data()[i]) / scale);
        }
        // Half a step, plus float32 rounding of x / scale and (code - zp) * scale.
        EXPECT_LE(worst_ratio, 0.5 + 1e-4) << "group " << group << ", " << bits << " bits, symmetric " << symmetric;
        if (group == 32 && (bits == 2 || bits == 8)) {
          std::printf("group %lld, %d bits, %s: max |error| / scale = %.6f\n", static_cast<long long>(group), bits,
                      symmetric ? "sym" : "asym", worst_ratio);
        }
      }
    }
  }
}

TEST(IntQuantizer, ScalesFollowMinMax) {
  const Tensor x = Tensor::from_vector(Shape{2, 3}, {-1.0f, 0.5f, 3.0f, 0.2f, 0.4f, 0.6f});
  const QuantParams sym = compute_scales(x, {8, true}, GranularitySpec::per_channel(0));
  EXPECT_FLOAT_EQ(sym.scales[0], 3.0f / 127.0f);
  EXPECT_FLOAT_EQ(sym.scales[1], 0.6f / 127.0f);
  EXPECT_EQ(sym.zero_points, (std::vector<int32_t>{0, 0}));
  const QuantParams asym = compute_scales(x, {8, false}, GranularitySpec::per_channel(0));
  EXPECT_FLOAT_EQ(asym.scales[0], 4.0f / 255.0f);
  EXPECT_EQ(asym.zero_points[0], 64);  // round(0 - (-1) / (4/255)) = round(63.75)
  // Row 1 is all positive: the range widens to [0, 0.6] so 0 stays exact, zero point 0.
  EXPECT_FLOAT_EQ(asym.scales[1], 0.6f / 255.0f);
  EXPECT_EQ(asym.zero_points[1], 0);
  // A constant-zero tensor gets the guard scale, not 0 (which would make 1/scale infinite).
  const Tensor zeros = Tensor::zeros(Shape{4});
  for (bool symmetric : {true, false}) {
    const QuantParams guarded = compute_scales(zeros, {4, symmetric}, GranularitySpec::per_tensor());
    EXPECT_EQ(guarded.scales[0], kMinScale);
    EXPECT_EQ(guarded.zero_points[0], 0);
    EXPECT_EQ(fake_quantize(zeros, guarded, {4, symmetric}, GranularitySpec::per_tensor()).to_vector(),
              std::vector<float>(4, 0.0f));
  }
  EXPECT_EQ((IntFormat{4, true}.qmin()), -8);
  EXPECT_EQ((IntFormat{4, true}.qmax()), 7);
  EXPECT_EQ((IntFormat{4, false}.qmax()), 15);
}

TEST(IntQuantizer, ErrorsNameTheProblem) {
  const Tensor x = Tensor::zeros(Shape{4, 100});
  const QuantParams one{{0.1f}, {0}};
  EXPECT_THAT(error_of([&] { compute_scales(x, {9, true}, GranularitySpec::per_tensor()); }),
              HasSubstr("compute_scales: integer format needs 2..8 bits, got 9"));
  EXPECT_THAT(error_of([&] { quantize(x, one, {1, false}, GranularitySpec::per_tensor()); }), HasSubstr("got 1"));
  EXPECT_THAT(error_of([&] { compute_scales(x, {8, true}, GranularitySpec::per_group(64)); }),
              HasSubstr("group size 64 must be positive and divide the last dimension 100 of shape [4, 100]"));
  EXPECT_THAT(error_of([&] { compute_scales(x, {8, true}, GranularitySpec::per_group(0)); }), HasSubstr("group size 0"));
  EXPECT_THAT(error_of([&] { compute_scales(x, {8, true}, GranularitySpec::per_channel(2)); }),
              HasSubstr("per-channel axis 2 is out of range for a tensor of shape [4, 100]"));
  EXPECT_THAT(error_of([&] { fake_quantize(x, one, {8, true}, GranularitySpec::per_channel(0)); }),
              HasSubstr("fake_quantize: tensor of shape [4, 100] needs 4 scales and zero points, got 1 scales and 1 zero points"));
  EXPECT_THAT(error_of([&] { quantize(x, {{0.0f}, {0}}, {8, true}, GranularitySpec::per_tensor()); }),
              HasSubstr("scales must be positive"));
  EXPECT_THAT(error_of([&] { quantize(x, {{0.1f}, {16}}, {4, false}, GranularitySpec::per_tensor()); }),
              HasSubstr("quantize: zero point 16 is outside [0, 15] of the 4-bit format"));
  EXPECT_THAT(error_of([&] { dequantize(std::vector<int32_t>(3), Shape{4}, one, GranularitySpec::per_tensor()); }),
              HasSubstr("dequantize: 3 codes for shape [4] with 4 elements"));
}

}  // namespace
}  // namespace qforge::testing
