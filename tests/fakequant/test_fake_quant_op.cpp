// FakeQuant op (fakequant/fake_quant_op.h) against PyTorch 1.13 (tests/fakequant/fake_quant_reference.py):
//   - clipped STE: values and dx of torch.fake_quantize_per_{tensor,channel}_affine, bit for bit;
//   - LSQ / LSQ+: values and dx, dscale, dzero_point of torch._fake_quantize_learnable_per_*_affine
//     (2/4/8 bits, symmetric and asymmetric, per tensor and per channel on axes 0 and 1, some
//     elements clipped, non-integer zero points, tensors large enough for the parallel paths);
//   - PACT: a hand-written autograd reference (clip with torch.where, detached round);
//   - STE passes dy through unchanged and gives the scale no gradient;
//   - error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fakequant/fake_quant_op.h"
#include "fakequant/int_quantizer.h"
#include "tests/support/error_of.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using namespace qforge::fakequant;
using ::testing::HasSubstr;

std::vector<double> doubles(const Tensor& t) {
  const auto v = t.to_vector();
  return {v.begin(), v.end()};
}
std::vector<double> doubles(const std::vector<float>& v) { return {v.begin(), v.end()}; }

struct TorchCase {
  std::string name;
  QuantizerSpec spec;
  Tensor x, dy;
  std::vector<float> scale, zero_point;  // zero points as floats (LSQ cases: non-integer)
};

QuantizerSpec int_spec(int bits, bool symmetric, GranularitySpec granularity, Estimator estimator) {
  QuantizerSpec spec;
  spec.bits = bits;
  spec.symmetric = symmetric;
  spec.granularity = granularity;
  spec.estimator = estimator;
  return spec;
}

// Scales from a narrower range than the data (0.8 x + 0.3) so some elements clip; LSQ cases get
// scales off the min/max grid and zero points 0.3 off an integer (torch rounds them the same way).
TorchCase make_case(const Shape& shape, const QuantizerSpec& spec, uint64_t seed) {
  TorchCase c{"", spec, Tensor::randn(shape, seed, 2.0f), Tensor::randn(shape, seed + 1000, 1.0f), {}, {}};
  Tensor narrower(shape);
  for (int64_t i = 0; i < c.x.numel(); ++i) narrower.data()[i] = 0.8f * c.x.data()[i] + 0.3f;
  const QuantParams params = compute_scales(narrower, {spec.bits, spec.symmetric}, spec.granularity);
  const bool learns = spec.estimator != Estimator::kClippedSte;
  for (size_t p = 0; p < params.scales.size(); ++p) {
    c.scale.push_back(learns ? params.scales[p] * 1.07f : params.scales[p]);
    const float offset = learns && !spec.symmetric ? (p % 2 ? 0.3f : -0.3f) : 0.0f;
    c.zero_point.push_back(static_cast<float>(params.zero_points[p]) + offset);
  }
  const auto& g = spec.granularity;
  c.name = estimator_name(spec.estimator) + "_" + std::to_string(spec.bits) + (spec.symmetric ? "sym_" : "asym_") +
           (g.kind == Granularity::kPerTensor ? "tensor" : "axis" + std::to_string(g.axis)) + "_" + shape.to_string() +
           "_" + std::to_string(seed);
  return c;
}

std::vector<TorchCase> torch_cases() {
  std::vector<TorchCase> cases;
  uint64_t seed = 1;
  for (Estimator estimator : {Estimator::kClippedSte, Estimator::kLsq, Estimator::kLsqPlus}) {
    for (int bits : {2, 4, 8}) {
      for (bool symmetric : {true, false}) {
        if (estimator == Estimator::kLsqPlus && symmetric) continue;
        for (auto [shape, granularity] : {std::pair{Shape{7, 33}, GranularitySpec::per_tensor()},
                                          std::pair{Shape{7, 33}, GranularitySpec::per_channel(0)},
                                          std::pair{Shape{7, 33}, GranularitySpec::per_channel(1)},
                                          std::pair{Shape{3, 5, 11}, GranularitySpec::per_channel(1)}}) {
          cases.push_back(make_case(shape, int_spec(bits, symmetric, granularity, estimator), seed++));
        }
      }
    }
    // Past the parallel threshold: pieces of one per-tensor run, and the row traversal in parallel.
    cases.push_back(make_case(Shape{64, 600}, int_spec(8, false, GranularitySpec::per_tensor(), estimator), seed++));
    cases.push_back(make_case(Shape{80, 500}, int_spec(4, false, GranularitySpec::per_channel(1), estimator), seed++));
  }
  return cases;
}

float auto_grad_factor(const TorchCase& c) {
  const double per_scale = static_cast<double>(c.x.numel()) / static_cast<double>(c.scale.size());
  return static_cast<float>(1.0 / std::sqrt(per_scale * IntFormat{c.spec.bits, c.spec.symmetric}.qmax()));
}

void put_request(TensorFile& request, const TorchCase& c) {
  const std::string key = "pt/" + c.name + "/";
  const IntFormat format{c.spec.bits, c.spec.symmetric};
  const auto n = static_cast<int64_t>(c.scale.size());
  request.put(key + "x", c.x.shape().to_vector(), doubles(c.x));
  request.put(key + "dy", c.dy.shape().to_vector(), doubles(c.dy));
  request.put(key + "scale", {n}, doubles(c.scale));
  request.put(key + "zero_point", {n}, doubles(c.zero_point));
  request.put(key + "range", {2}, {double(format.qmin()), double(format.qmax())});
  const bool per_tensor = c.spec.granularity.kind == Granularity::kPerTensor;
  request.put(key + "axis", {1}, {per_tensor ? -1.0 : double(c.spec.granularity.axis)});
  request.put(key + "learnable", {1}, {c.spec.estimator == Estimator::kClippedSte ? 0.0 : 1.0});
  request.put(key + "grad_factor", {1}, {double(auto_grad_factor(c))});
}

// Largest |ours - torch| / max(1, |torch|) (relative above 1: torch sums the per-element scale
// terms in float32, we sum them in double, so large sums differ by an ulp of float32).
double max_diff(const Tensor& ours, const TorchCase& c, const TensorFile& answer, const std::string& what) {
  const auto& expected = answer.tensor("pt/" + c.name + "/" + what).values;
  EXPECT_EQ(expected.size(), static_cast<size_t>(ours.numel())) << c.name << " " << what;
  double worst = 0.0;
  for (size_t i = 0; i < expected.size() && i < static_cast<size_t>(ours.numel()); ++i) {
    worst = std::max(worst, std::fabs(ours.data()[i] - expected[i]) / std::max(1.0, std::fabs(expected[i])));
  }
  return worst;
}

struct PactCase {
  std::string name;
  QuantizerSpec spec;
  Tensor x, dy;
  float alpha;
};

std::vector<PactCase> pact_cases() {
  std::vector<PactCase> cases;
  uint64_t seed = 50;
  for (int bits : {2, 4, 8}) {
    for (bool symmetric : {true, false}) {
      QuantizerSpec spec = int_spec(bits, symmetric, GranularitySpec::per_tensor(), Estimator::kPact);
      Tensor x = Tensor::randn(Shape{16, 40}, seed, 1.5f);
      const float alpha = 1.75f + 0.01f * static_cast<float>(seed);
      // The boundaries themselves: x == alpha, x == -alpha, x == 0.
      x.data()[0] = alpha, x.data()[1] = -alpha, x.data()[2] = 0.0f;
      cases.push_back({"pact_" + std::to_string(bits) + (symmetric ? "sym" : "asym"), spec, x,
                       Tensor::randn(Shape{16, 40}, seed + 7, 1.0f), alpha});
      ++seed;
    }
  }
  return cases;
}

void put_request(TensorFile& request, const PactCase& c) {
  const std::string key = "pact/" + c.name + "/";
  request.put(key + "x", c.x.shape().to_vector(), doubles(c.x));
  request.put(key + "dy", c.dy.shape().to_vector(), doubles(c.dy));
  request.put(key + "alpha", {1}, {c.alpha});
  request.put(key + "symmetric", {1}, {c.spec.symmetric ? 1.0 : 0.0});
  request.put(key + "qmax", {1}, {double(IntFormat{c.spec.bits, c.spec.symmetric}.qmax())});
}

// One PyTorch run answers every case of this file (starting torch costs seconds).
const TensorFile& torch_answers() {
  static const TensorFile answer = [] {
    TensorFile request;
    for (const auto& c : torch_cases()) put_request(request, c);
    for (const auto& c : pact_cases()) put_request(request, c);
    return run_torch_script("tests/fakequant/fake_quant_reference.py", request, "fq_op");
  }();
  return answer;
}

struct Worst {
  double y = 0, dx = 0, dscale = 0, dzero_point = 0, largest_dscale = 0;
  int64_t cases = 0, clipped = 0, elements = 0;
};

TEST(FakeQuantOp, MatchesTorchAffineAndLearnableOps) {
  const auto cases = torch_cases();
  const TensorFile& answer = torch_answers();
  Worst worst[3];
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto n = static_cast<int64_t>(c.scale.size());
    const bool learns = c.spec.estimator != Estimator::kClippedSte;
    Variable x(c.x, true);
    Variable scale(Tensor::from_vector(Shape{n}, c.scale), learns);
    Variable zero_point = c.spec.symmetric ? Variable()
                                           : Variable(Tensor::from_vector(Shape{n}, c.zero_point),
                                                      c.spec.estimator == Estimator::kLsqPlus);
    Variable y = fake_quant(x, scale, zero_point, c.spec);
    y.backward(c.dy);
    Worst& w = worst[static_cast<int>(c.spec.estimator) - 1];
    w.y = std::max(w.y, max_diff(y.data(), c, answer, "y"));
    w.dx = std::max(w.dx, max_diff(x.grad(), c, answer, "dx"));
    if (learns) {
      w.dscale = std::max(w.dscale, max_diff(scale.grad(), c, answer, "dscale"));
      for (float v : scale.grad().to_vector()) w.largest_dscale = std::max<double>(w.largest_dscale, std::fabs(v));
    }
    if (c.spec.estimator == Estimator::kLsqPlus) {
      w.dzero_point = std::max(w.dzero_point, max_diff(zero_point.grad(), c, answer, "dzero_point"));
    }
    for (int64_t i = 0; i < c.x.numel(); ++i) w.clipped += x.grad().data()[i] == 0.0f;
    w.elements += c.x.numel();
    ++w.cases;
  }
  for (Estimator e : {Estimator::kClippedSte, Estimator::kLsq, Estimator::kLsqPlus}) {
    const Worst& w = worst[static_cast<int>(e) - 1];
    std::printf("%-11s vs torch: %lld cases, %lld elements (%lld clipped), max error y %.3g dx %.3g dscale %.3g "
                "(|dscale| up to %.3g) dzero_point %.3g\n",
                estimator_name(e).c_str(), static_cast<long long>(w.cases), static_cast<long long>(w.elements),
                static_cast<long long>(w.clipped), w.y, w.dx, w.dscale, w.largest_dscale, w.dzero_point);
    EXPECT_EQ(w.y, 0.0);   // bit-identical values (errors: abs, or relative above 1)
    EXPECT_EQ(w.dx, 0.0);  // identical masks
    EXPECT_LE(w.dscale, 1e-6);
    EXPECT_LE(w.dzero_point, 1e-6);
    EXPECT_GT(w.clipped, w.elements / 100);  // the clipped branch was exercised
  }
}

TEST(FakeQuantOp, PactMatchesHandWrittenAutograd) {
  const auto cases = pact_cases();
  const TensorFile& answer = torch_answers();
  double worst_y = 0, worst_dx = 0, worst_dalpha = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Variable x(c.x, true), alpha(Tensor::from_vector(Shape{1}, {c.alpha}), true);
    Variable y = fake_quant(x, alpha, Variable(), c.spec);
    y.backward(c.dy);
    const std::string key = "pact/" + c.name + "/";
    const auto& y_ref = answer.tensor(key + "y").values;
    const auto& dx_ref = answer.tensor(key + "dx").values;
    for (int64_t i = 0; i < c.x.numel(); ++i) {
      worst_y = std::max(worst_y, std::fabs(y.data().data()[i] - y_ref[i]));
      worst_dx = std::max(worst_dx, std::fabs(x.grad().data()[i] - dx_ref[i]));
    }
    const double dalpha_ref = answer.tensor(key + "dalpha").values[0];
    worst_dalpha = std::max(worst_dalpha, std::fabs(alpha.grad().item() - dalpha_ref) / std::max(1.0, std::fabs(dalpha_ref)));
    EXPECT_NE(dalpha_ref, 0.0);
  }
  std::printf("pact vs hand-written torch autograd: %zu cases, max abs error y %.3g dx %.3g, dalpha rel %.3g\n",
              cases.size(), worst_y, worst_dx, worst_dalpha);
  EXPECT_EQ(worst_y, 0.0);
  EXPECT_EQ(worst_dx, 0.0);
  EXPECT_LE(worst_dalpha, 1e-6);
}

TEST(FakeQuantOp, SteIsIdentityAndLeavesScaleConstant) {
  const Tensor x_data = Tensor::randn(Shape{5, 9}, 3, 4.0f), dy = Tensor::randn(Shape{5, 9}, 4, 1.0f);
  Variable x(x_data, true), scale(Tensor::full(Shape{5}, 0.1f), true);
  const QuantizerSpec spec = int_spec(4, true, GranularitySpec::per_channel(0), Estimator::kSte);
  fake_quant(x, scale, Variable(), spec).backward(dy);
  EXPECT_EQ(x.grad().to_vector(), dy.to_vector());  // the clipped elements pass dy too
  EXPECT_FALSE(scale.has_grad());
}

TEST(FakeQuantOp, ErrorsNameTheProblem) {
  const Variable x(Tensor::randn(Shape{4, 6}, 1, 1.0f), true);
  const Variable four(Tensor::full(Shape{4}, 0.1f));
  const QuantizerSpec channel = int_spec(8, false, GranularitySpec::per_channel(0), Estimator::kLsq);
  EXPECT_THAT(error_of([&] { fake_quant(x, Variable(Tensor::full(Shape{3}, 0.1f)), Variable(), channel); }),
              HasSubstr("fake_quant: x of shape [4, 6] with int8 asym per-channel(0) lsq minmax needs 4 scales, got "
                        "scale of shape [3]"));
  EXPECT_THAT(error_of([&] { fake_quant(x, Variable(), Variable(), channel); }),
              HasSubstr("needs 4 scales, got scale of an undefined Variable"));
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(Tensor::zeros(Shape{6})), channel); }),
              HasSubstr("needs 4 zero points, got zero_point of shape [6]"));
  EXPECT_THAT(error_of([&] { fake_quant(x, Variable(Tensor::from_vector(Shape{4}, {0.1f, 0.0f, 0.1f, 0.1f})), Variable(), channel); }),
              HasSubstr("scales must be positive and finite, got scale[1] = 0"));
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(Tensor::full(Shape{4}, NAN)), channel); }),
              HasSubstr("zero_point[0] = nan is not finite"));
  QuantizerSpec fp8 = channel;
  fp8.format = ElementFormat::kFp8E4M3;
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(Tensor::full(Shape{4}, 3.0f)), fp8); }),
              HasSubstr("zero_point[0] = 3.000000 must be 0: fp8_e4m3 has no zero point"));
  QuantizerSpec axis2 = int_spec(8, true, GranularitySpec::per_channel(2), Estimator::kSte);
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(), axis2); }),
              HasSubstr("fake_quant: per-channel axis 2 is out of range for a tensor of shape [4, 6]"));
  QuantizerSpec group4 = int_spec(8, true, GranularitySpec::per_group(4), Estimator::kSte);
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(), group4); }),
              HasSubstr("fake_quant: group size 4 must be positive and divide the last dimension 6"));
  QuantizerSpec plus = int_spec(8, false, GranularitySpec::per_channel(0), Estimator::kLsqPlus);
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(), plus); }),
              HasSubstr("LSQ+ learns the zero point, got zero_point of an undefined Variable"));
  QuantizerSpec pact = int_spec(8, false, GranularitySpec::per_tensor(), Estimator::kPact);
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(), pact); }),
              HasSubstr("PACT needs 1 clipping level alpha (in `scale`) for x of shape [4, 6], got shape [4]"));
  EXPECT_THAT(error_of([&] { fake_quant(x, Variable(Tensor::full(Shape{1}, -1.0f)), Variable(), pact); }),
              HasSubstr("PACT alpha must be positive and finite, got -1"));
  QuantizerSpec token = int_spec(8, true, GranularitySpec::per_tensor(), Estimator::kSte);
  token.dynamic_per_token = true;
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(), token); }), HasSubstr("call fake_quant_dynamic"));
  QuantizerSpec two_level = int_spec(4, true, GranularitySpec::per_group(2), Estimator::kSte);
  two_level.block_scales.scale_bits = 6;
  EXPECT_THAT(error_of([&] { fake_quant(x, Variable(Tensor::full(Shape{12}, 0.1f)), Variable(), two_level); }),
              HasSubstr("fake_quant: two-level scales (dq6) are not applied here"));
  QuantizerSpec lsq_fp16 = int_spec(8, true, GranularitySpec::per_tensor(), Estimator::kLsq);
  lsq_fp16.format = ElementFormat::kFp16;
  EXPECT_THAT(error_of([&] { fake_quant(x, four, Variable(), lsq_fp16); }),
              HasSubstr("fake_quant: learnable scales need a scaled format"));
  QuantizerSpec lsq_token = token;
  lsq_token.estimator = Estimator::kLsq;
  EXPECT_THAT(error_of([&] { fake_quant_dynamic(x, lsq_token); }),
              HasSubstr("fake_quant_dynamic: dynamic per-token scales are recomputed every step and cannot be learned"));
}

}  // namespace
}  // namespace qforge::testing
