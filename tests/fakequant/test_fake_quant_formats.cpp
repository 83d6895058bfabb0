// FakeQuant op (fakequant/fake_quant_op.h) against the scalar reference of value_grid.h for every
// element format, granularity and scale dtype:
//   - forward values bit for bit equal to fake_quantize_value (with round_scale'd scales and
//     round-half-even zero points), including NaN, +-inf, +-0, huge and subnormal inputs;
//   - clipped-STE masks and LSQ gradients of the float formats and of per-group integer scales
//     (no PyTorch op covers those) against a scalar re-derivation of the documented formulas;
//   - straight-through scale rounding, the grad_factor option, thread-count independence;
//   - fake_quant_dynamic against hand-computed per-token scales.
#include <gtest/gtest.h>
#include <omp.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "fakequant/fake_quant_op.h"
#include "fakequant/formats/nf4.h"
#include "fakequant/int_quantizer.h"
#include "fakequant/value_grid.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using namespace qforge::fakequant;

// Parameter of element i, from its coordinates (independent of the op's ParamLayout).
int64_t param_of(const Shape& shape, const GranularitySpec& g, int64_t i) {
  if (g.kind == Granularity::kPerTensor) return 0;
  if (g.kind == Granularity::kPerGroup) return i / g.group_size;
  int64_t inner = 1;
  for (int d = g.axis + 1; d < shape.ndim(); ++d) inner *= shape[d];
  return (i / inner) % shape[g.axis];
}

int64_t params_of(const Shape& shape, const GranularitySpec& g) {
  if (g.kind == Granularity::kPerTensor) return 1;
  if (g.kind == Granularity::kPerGroup) return shape.numel() / g.group_size;
  return shape[g.axis];
}

bool is_unscaled(ElementFormat f) { return f == ElementFormat::kFp16 || f == ElementFormat::kBf16; }

// Random data with special values sprinkled in, and per-parameter scales and zero points that put
// the grid roughly over the data (scale off by a random factor 0.6..1.4, so some elements clip).
struct Inputs {
  Tensor x, dy, scale, zero_point;  // zero_point undefined unless asymmetric int
};

Inputs make_inputs(const Shape& shape, const QuantizerSpec& spec, uint64_t seed, bool specials) {
  Inputs in{Tensor::randn(shape, seed, 3.0f), Tensor::randn(shape, seed + 1, 1.0f), {}, {}};
  if (specials && shape.numel() >= 12) {
    const float values[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e30f, -1e30f, 1e-40f, -3e-39f, 1e-8f, 7.0f, -7.0f};
    for (int k = 0; k < 12; ++k) in.x.data()[(k * 7919) % shape.numel()] = values[k];
  }
  const int64_t n = params_of(shape, spec.granularity);
  const Tensor factor = Tensor::uniform(Shape{n}, 0.6f, 1.4f, seed + 2);
  in.scale = Tensor(Shape{n});
  const float top = format_max_magnitude(spec);
  for (int64_t p = 0; p < n; ++p) in.scale.data()[p] = 9.0f / top * factor.data()[p];
  if (spec.format == ElementFormat::kInt && !spec.symmetric) {
    const IntFormat f{spec.bits, spec.symmetric};
    const Tensor u = Tensor::uniform(Shape{n}, float(f.qmin()) - 0.4f, float(f.qmax()) + 0.4f, seed + 3);
    in.zero_point = u;
  }
  return in;
}

int32_t rounded_zero_point(const Inputs& in, const QuantizerSpec& spec, int64_t p) {
  if (!in.zero_point.defined()) return 0;
  const IntFormat f{spec.bits, spec.symmetric};
  return static_cast<int32_t>(std::nearbyint(std::clamp(in.zero_point.data()[p], float(f.qmin()), float(f.qmax()))));
}

Variable op(const Variable& x, const Variable& scale, const Inputs& in, const QuantizerSpec& spec,
           const FakeQuantOptions& options = {}) {
  Variable zero_point = in.zero_point.defined() ? Variable(in.zero_point) : Variable();
  return fake_quant(x, is_unscaled(spec.format) ? Variable() : scale, zero_point, spec, options);
}

TEST(FakeQuantFormats, ForwardMatchesFakeQuantizeValueBitForBit) {
  const std::vector<std::pair<Shape, GranularitySpec>> layouts = {
      {Shape{12, 48}, GranularitySpec::per_tensor()},    {Shape{12, 48}, GranularitySpec::per_channel(0)},
      {Shape{12, 48}, GranularitySpec::per_channel(1)},  {Shape{4, 6, 40}, GranularitySpec::per_channel(1)},
      {Shape{12, 48}, GranularitySpec::per_group(16)},   {Shape{40, 1000}, GranularitySpec::per_tensor()},
      {Shape{96, 512}, GranularitySpec::per_channel(1)}, {Shape{64, 512}, GranularitySpec::per_group(32)}};
  const ElementFormat formats[] = {ElementFormat::kInt,    ElementFormat::kFp8E4M3, ElementFormat::kFp8E5M2,
                                   ElementFormat::kFp4E2M1, ElementFormat::kNf4,     ElementFormat::kFp16,
                                   ElementFormat::kBf16};
  int64_t checked = 0, mismatches = 0, combos = 0;
  uint64_t seed = 100;
  for (ElementFormat format : formats) {
    for (ScaleDtype dtype : {ScaleDtype::kFp32, ScaleDtype::kFp16, ScaleDtype::kBf16}) {
      for (const auto& [shape, granularity] : layouts) {
        QuantizerSpec spec;
        spec.format = format;
        spec.bits = 2 + static_cast<int>(seed % 7);
        spec.symmetric = seed % 2 == 0;
        spec.granularity = granularity;
        spec.scale_dtype = dtype;
        spec.estimator = seed % 3 == 0 ? Estimator::kSte : Estimator::kClippedSte;
        const Inputs in = make_inputs(shape, spec, seed++, true);
        const bool with_grad = seed % 2 == 0;  // the masked and the unmasked forward loops
        const Tensor out = op(Variable(in.x, with_grad), Variable(in.scale), in, spec).data();
        for (int64_t i = 0; i < shape.numel(); ++i) {
          const int64_t p = param_of(shape, granularity, i);
          const float scale = round_scale(in.scale.data()[p], dtype);
          const float expected = fake_quantize_value(in.x.data()[i], scale, rounded_zero_point(in, spec, p), spec);
          if (std::bit_cast<uint32_t>(expected) != std::bit_cast<uint32_t>(out.data()[i]) && ++mismatches < 5) {
            ADD_FAILURE() << spec.describe() << " shape " << shape.to_string() << " element " << i << " x "
                          << in.x.data()[i] << ": expected " << expected << " got " << out.data()[i];
          }
          ++checked;
        }
        ++combos;
      }
    }
  }
  std::printf("forward vs fake_quantize_value: %lld format/granularity/scale-dtype combinations, %lld elements, "
              "%lld bit mismatches\n",
              static_cast<long long>(combos), static_cast<long long>(checked), static_cast<long long>(mismatches));
  EXPECT_EQ(mismatches, 0);
}

// Scalar re-derivation of the documented LSQ terms for one element (fake_quant_op.h).
struct LsqTerm {
  bool inside;
  float ds;
};

LsqTerm lsq_term(const QuantizerSpec& spec, float x, float dy, float s, int32_t zp) {
  const GridBounds b = grid_bounds(spec, zp);
  if (spec.format == ElementFormat::kInt) {  // PyTorch 1.13's learnable kernel (its builds fuse zp + x * inv)
    const float inv = 1.0f / s;
    const float code = std::nearbyint(std::fma(x, inv, static_cast<float>(zp))) - static_cast<float>(zp);
    const bool inside = code >= b.low && code <= b.high;
    return {inside, inside ? dy * (std::clamp(code, b.low, b.high) * s - x) * inv : dy * (code < b.low ? b.low : b.high)};
  }
  // Float formats: inside while rounding does not saturate, i.e. up to the value halfway past the
  // largest magnitude (written out here: max + half its step, ties as the format rounds them).
  const float v = x / s;
  float clip = 0.0f;
  switch (spec.format) {
    case ElementFormat::kFp8E4M3: clip = 464.0f; break;                     // 448 + 32 / 2, tie -> 448
    case ElementFormat::kFp8E5M2: clip = std::nextafter(61440.0f, 0.0f); break;  // 57344 + 8192 / 2, tie -> inf
    case ElementFormat::kFp4E2M1: clip = std::nextafter(7.0f, 0.0f); break;      // 6 + 2 / 2, tie -> 8
    default: clip = static_cast<float>(1.0 + (1.0 - kNf4Values[14]) / 2.0);      // NF4
  }
  const bool inside = v >= -clip && v <= clip;
  return {inside, inside ? dy * (round_to_format(spec.format, v) - v) : dy * (v < 0.0f ? b.low : b.high)};
}

TEST(FakeQuantFormats, MasksAndLsqGradientsFollowTheFormulas) {
  const std::vector<std::pair<Shape, GranularitySpec>> layouts = {
      {Shape{12, 48}, GranularitySpec::per_tensor()},   {Shape{12, 48}, GranularitySpec::per_channel(0)},
      {Shape{12, 48}, GranularitySpec::per_channel(1)}, {Shape{12, 48}, GranularitySpec::per_group(16)},
      {Shape{64, 640}, GranularitySpec::per_group(64)}, {Shape{50, 1000}, GranularitySpec::per_tensor()}};
  double worst_ds = 0.0;
  int64_t dx_mismatches = 0, elements = 0, clipped = 0;
  uint64_t seed = 300;
  for (ElementFormat format : {ElementFormat::kInt, ElementFormat::kFp8E4M3, ElementFormat::kFp8E5M2,
                               ElementFormat::kFp4E2M1, ElementFormat::kNf4}) {
    for (Estimator estimator : {Estimator::kClippedSte, Estimator::kLsq}) {
      for (const auto& [shape, granularity] : layouts) {
        QuantizerSpec spec;
        spec.format = format;
        spec.bits = 4;
        spec.symmetric = seed % 2 == 0;
        spec.granularity = granularity;
        spec.estimator = estimator;
        const Inputs in = make_inputs(shape, spec, seed++, false);
        Variable x(in.x, true);
        Variable scale(in.scale, true);
        op(x, scale, in, spec).backward(in.dy);
        const int64_t n = params_of(shape, granularity);
        std::vector<double> ds(n, 0.0);
        for (int64_t i = 0; i < shape.numel(); ++i) {
          const int64_t p = param_of(shape, granularity, i);
          const float s = in.scale.data()[p], xv = in.x.data()[i], dy = in.dy.data()[i];
          const int32_t zp = rounded_zero_point(in, spec, p);
          LsqTerm t = lsq_term(spec, xv, dy, s, zp);
          if (estimator == Estimator::kClippedSte && format == ElementFormat::kInt) {  // the forward's mask
            const float code = std::nearbyint(xv * (1.0f / s));
            const GridBounds b = grid_bounds(spec, zp);
            t.inside = code >= b.low && code <= b.high;
          }
          dx_mismatches += x.grad().data()[i] != (t.inside ? dy : 0.0f);
          clipped += !t.inside;
          ds[p] += t.ds;
        }
        elements += shape.numel();
        if (estimator != Estimator::kLsq) {
          EXPECT_FALSE(scale.has_grad());
          continue;
        }
        const double g = 1.0 / std::sqrt(double(shape.numel()) / double(n) * format_max_magnitude(spec));
        for (int64_t p = 0; p < n; ++p) {
          const double expected = ds[p] * g, actual = scale.grad().data()[p];
          worst_ds = std::max(worst_ds, std::fabs(actual - expected) / std::max(1.0, std::fabs(expected)));
        }
      }
    }
  }
  std::printf("clipped STE / LSQ vs scalar formulas: %lld elements (%lld clipped), %lld dx mismatches, max scale-grad "
              "error %.3g\n",
              static_cast<long long>(elements), static_cast<long long>(clipped), static_cast<long long>(dx_mismatches),
              worst_ds);
  EXPECT_EQ(dx_mismatches, 0);
  EXPECT_GT(clipped, elements / 100);
  EXPECT_LE(worst_ds, 1e-6);
}

struct LsqGrads {
  std::vector<float> dx, ds;
};

LsqGrads lsq_grads(const Inputs& in, const QuantizerSpec& spec, const Tensor& scale, const FakeQuantOptions& options = {}) {
  Variable x(in.x, true), s(scale, true);
  op(x, s, in, spec, options).backward(in.dy);
  return {x.grad().to_vector(), s.grad().to_vector()};
}

QuantizerSpec lsq_spec(ElementFormat format, GranularitySpec granularity, bool symmetric = true) {
  QuantizerSpec spec;
  spec.format = format;
  spec.bits = 4;
  spec.symmetric = symmetric;
  spec.granularity = granularity;
  spec.estimator = Estimator::kLsq;
  return spec;
}

// fp16 / bf16 scale storage is straight-through for the scale gradient: the gradient with respect
// to the raw scale equals the fp32 gradient taken at the rounded scale.
TEST(FakeQuantFormats, RoundedScalesAreStraightThrough) {
  for (ScaleDtype dtype : {ScaleDtype::kFp16, ScaleDtype::kBf16}) {
    for (ElementFormat format : {ElementFormat::kInt, ElementFormat::kFp8E4M3}) {
      QuantizerSpec spec = lsq_spec(format, GranularitySpec::per_channel(0), false);
      const Inputs in = make_inputs(Shape{16, 64}, spec, 500, false);
      Tensor rounded = in.scale.clone();
      for (int64_t p = 0; p < rounded.numel(); ++p) rounded.data()[p] = round_scale(rounded.data()[p], dtype);
      const LsqGrads at_fp32 = lsq_grads(in, spec, rounded);
      spec.scale_dtype = dtype;
      const LsqGrads stored = lsq_grads(in, spec, in.scale);
      EXPECT_EQ(stored.dx, at_fp32.dx) << spec.describe();
      EXPECT_EQ(stored.ds, at_fp32.ds) << spec.describe();
      EXPECT_NE(rounded.to_vector(), in.scale.to_vector());  // the rounding did change the scales
    }
  }
}

TEST(FakeQuantFormats, GradFactorOptionReplacesTheAutomaticOne) {
  const QuantizerSpec spec = lsq_spec(ElementFormat::kInt, GranularitySpec::per_group(16));
  const Inputs in = make_inputs(Shape{8, 64}, spec, 600, false);
  const LsqGrads automatic = lsq_grads(in, spec, in.scale);
  const LsqGrads explicit_g = lsq_grads(in, spec, in.scale, FakeQuantOptions{0.5f});
  const double g = 1.0 / std::sqrt(16.0 * 7.0);  // 16 elements per scale, Qp = 7 for int4
  for (size_t p = 0; p < automatic.ds.size(); ++p) {
    EXPECT_NEAR(explicit_g.ds[p], automatic.ds[p] / g * 0.5, 1e-6 * std::max(1.0, std::fabs(double(explicit_g.ds[p]))));
  }
  EXPECT_EQ(explicit_g.dx, automatic.dx);
}

// Partial sums have fixed boundaries: one thread and two give the same bits.
TEST(FakeQuantFormats, GradientsDoNotDependOnTheThreadCount) {
  const int threads = omp_get_max_threads();
  for (auto [shape, granularity] : {std::pair{Shape{200, 400}, GranularitySpec::per_tensor()},
                                    std::pair{Shape{200, 400}, GranularitySpec::per_channel(1)},
                                    std::pair{Shape{200, 400}, GranularitySpec::per_group(40)}}) {
    const QuantizerSpec spec = lsq_spec(ElementFormat::kFp8E4M3, granularity);
    const Inputs in = make_inputs(shape, spec, 700, false);
    omp_set_num_threads(1);
    const LsqGrads one = lsq_grads(in, spec, in.scale);
    omp_set_num_threads(2);
    const LsqGrads two = lsq_grads(in, spec, in.scale);
    EXPECT_EQ(one.ds, two.ds) << spec.describe();
    EXPECT_EQ(one.dx, two.dx) << spec.describe();
  }
  omp_set_num_threads(threads);
}

TEST(FakeQuantFormats, EmptyTensors) {
  const QuantizerSpec spec = lsq_spec(ElementFormat::kInt, GranularitySpec::per_tensor());
  Variable x(Tensor(Shape{0, 8}), true), scale(Tensor::full(Shape{1}, 0.5f), true);
  Variable y = fake_quant(x, scale, Variable(), spec);
  EXPECT_EQ(y.numel(), 0);
  y.backward(Tensor(Shape{0, 8}));
  EXPECT_EQ(scale.grad().item(), 0.0f);
}

}  // namespace
}  // namespace qforge::testing
