// fake_quant_dynamic (fakequant/fake_quant_op.h) against per-token scales computed by hand from
// each row: symmetric int absmax / qmax, asymmetric int min/max (widened to 0) with a rounded zero
// point, float formats absmax / format max, then rounded to the scale dtype; values bit for bit,
// clipped-STE gradients element for element, and that absmax scales never clip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "fakequant/fake_quant_op.h"
#include "fakequant/value_grid.h"
#include "tests/support/error_of.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using namespace qforge::fakequant;

struct RowScale {
  float scale = 1.0f;
  int32_t zero_point = 0;
  float low = 0.0f;  // asymmetric: the range minimum widened to 0
};

RowScale hand_scale(const float* row, int64_t n, const QuantizerSpec& spec) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t j = 0; j < n; ++j) lo = std::min(lo, row[j]), hi = std::max(hi, row[j]);
  const float absmax = std::max(std::fabs(lo), std::fabs(hi));
  const IntFormat f{spec.bits, spec.symmetric};
  RowScale r;
  switch (spec.format) {
    case ElementFormat::kFp16:
    case ElementFormat::kBf16: return r;
    case ElementFormat::kInt:
      if (spec.symmetric) {
        r.scale = std::max(absmax / float(f.qmax()), kMinScale);
      } else {
        r.low = std::min(lo, 0.0f);
        r.scale = std::max((std::max(hi, 0.0f) - r.low) / float(f.qmax() - f.qmin()), kMinScale);
      }
      break;
    case ElementFormat::kFp8E4M3: r.scale = std::max(absmax / 448.0f, kMinScale); break;
    case ElementFormat::kFp8E5M2: r.scale = std::max(absmax / 57344.0f, kMinScale); break;
    case ElementFormat::kFp4E2M1: r.scale = std::max(absmax / 6.0f, kMinScale); break;
    case ElementFormat::kNf4: r.scale = std::max(absmax, kMinScale); break;
  }
  r.scale = round_scale(r.scale, spec.scale_dtype);
  if (spec.format == ElementFormat::kInt && !spec.symmetric) {  // zero point of the stored scale
    r.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(float(f.qmin()) - r.low / r.scale), float(f.qmin()), float(f.qmax())));
  }
  return r;
}

// Value and clipping flag of one element under a row scale.
std::pair<float, bool> hand_element(float x, const RowScale& r, const QuantizerSpec& spec) {
  if (spec.format == ElementFormat::kInt) {
    const IntFormat f{spec.bits, spec.symmetric};
    const float code = std::nearbyint(x * (1.0f / r.scale)) + float(r.zero_point);
    const float clamped = std::clamp(code, float(f.qmin()), float(f.qmax()));
    return {(clamped - float(r.zero_point)) * r.scale, code >= f.qmin() && code <= f.qmax()};
  }
  if (spec.format == ElementFormat::kFp16 || spec.format == ElementFormat::kBf16) {
    return {round_to_format(spec.format, x), std::fabs(x) <= grid_bounds(spec, 0).high};
  }
  // Clipped only where rounding would pass the largest value (fake_quant_op.h): half a top step.
  const float v = x / r.scale, top = format_max_magnitude(spec);
  const float half_step = spec.format == ElementFormat::kFp8E4M3 ? 16.0f
                          : spec.format == ElementFormat::kFp8E5M2 ? 4096.0f
                          : spec.format == ElementFormat::kFp4E2M1 ? 1.0f
                                                                   : 0.1385216f;
  const bool inside = spec.format == ElementFormat::kFp8E4M3 ? std::fabs(v) <= top + half_step  // 464 ties to 448
                                                             : std::fabs(v) < top + half_step;
  return {r.scale * round_to_format(spec.format, v), inside};
}

QuantizerSpec token_spec(const std::string& scheme) {
  QuantizerSpec spec = parse_scheme(scheme);
  spec.dynamic_per_token = true;
  spec.estimator = Estimator::kClippedSte;
  return spec;
}

TEST(FakeQuantDynamic, MatchesHandComputedPerTokenScales) {
  const char* schemes[] = {"int8:sym",        "int8:asym",           "int4:asym",           "int2:sym",
                           "int8:sym:scale_bf16", "int8:asym:scale_bf16", "int4:sym:scale_fp16", "fp8_e4m3",
                           "fp8_e5m2:scale_bf16", "fp4_e2m1",            "nf4",                 "fp16",
                           "bf16"};
  int64_t mismatches = 0, elements = 0, clipped_sym_fp32 = 0, clipped_total = 0;
  uint64_t seed = 900;
  for (const char* scheme : schemes) {
    const QuantizerSpec spec = token_spec(scheme);
    for (const Shape& shape : {Shape{6, 40}, Shape{2, 3, 50}, Shape{300, 256}}) {
      Tensor x = Tensor::randn(shape, seed++, 2.0f);
      const int64_t cols = shape[shape.ndim() - 1], rows = shape.numel() / cols;
      for (int64_t j = 0; j < cols; ++j) {  // an all-zero row, a constant row, an all-negative row
        x.data()[j] = 0.0f;
        x.data()[cols + j] = 2.5f;
        x.data()[2 * cols + j] = -std::fabs(x.data()[2 * cols + j]) - 0.1f;
      }
      const Tensor dy = Tensor::randn(shape, seed++, 1.0f);
      Variable xv(x, true);
      Variable y = fake_quant_dynamic(xv, spec);
      y.backward(dy);
      for (int64_t r = 0; r < rows; ++r) {
        const RowScale rs = hand_scale(x.data() + r * cols, cols, spec);
        for (int64_t j = r * cols; j < (r + 1) * cols; ++j) {
          const auto [value, inside] = hand_element(x.data()[j], rs, spec);
          const bool value_ok = std::bit_cast<uint32_t>(value) == std::bit_cast<uint32_t>(y.data().data()[j]);
          const bool grad_ok = xv.grad().data()[j] == (inside ? dy.data()[j] : 0.0f);
          if ((!value_ok || !grad_ok) && ++mismatches < 5) {
            ADD_FAILURE() << scheme << " " << shape.to_string() << " element " << j << " x " << x.data()[j]
                          << ": expected " << value << (inside ? " (inside)" : " (clipped)") << " got "
                          << y.data().data()[j] << " dx " << xv.grad().data()[j];
          }
          clipped_total += !inside;
          if (spec.format == ElementFormat::kInt && spec.symmetric && spec.scale_dtype == ScaleDtype::kFp32) {
            clipped_sym_fp32 += !inside;
          }
          ++elements;
        }
      }
    }
  }
  std::printf("fake_quant_dynamic vs hand-computed per-token scales: %zu schemes, %lld elements, %lld mismatches "
              "(values or dx), %lld clipped (all from asymmetric zero points or rounded scales)\n",
              std::size(schemes), static_cast<long long>(elements), static_cast<long long>(mismatches),
              static_cast<long long>(clipped_total));
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(clipped_sym_fp32, 0);  // absmax / qmax never clips
}

TEST(FakeQuantDynamic, SteGradientIsDyAndErrorsNameTheOp) {
  QuantizerSpec spec = token_spec("int4:asym");
  spec.estimator = Estimator::kSte;
  const Tensor dy = Tensor::randn(Shape{4, 16}, 2, 1.0f);
  Variable x(Tensor::randn(Shape{4, 16}, 1, 3.0f), true);
  fake_quant_dynamic(x, spec).backward(dy);
  EXPECT_EQ(x.grad().to_vector(), dy.to_vector());
  spec.estimator = Estimator::kPact;
  EXPECT_THAT(error_of([&] { fake_quant_dynamic(x, spec); }), ::testing::HasSubstr("fake_quant_dynamic: "));
}

}  // namespace
}  // namespace qforge::testing
