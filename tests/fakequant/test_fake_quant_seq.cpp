// SEQ, ParetoQ's stretched elastic quant (fake_quant_op.h kSeq), against a PyTorch implementation of
// its stated rule (tests/fakequant/seq_reference.py):
//   - values bit for bit, dx exactly, dalpha to 1e-6 (float32 sums there, double sums here), on 2 and
//     3 bits, per tensor, per channel (axes 0 and 1), per group, tensors large enough for the parallel
//     traversals, and elements placed on the ties and on the clip edge |v| = 0.99;
//   - dalpha also against torch autograd through a straight-through round (independent of the
//     hand-stated gradient);
//   - the 2-bit grid: alpha * {-3/4, -1/4, 1/4, 3/4}, no zero level, clip edge included;
//   - a weight quantizer starts from alpha = max |W| per row (ParetoQ's init), learns it, and
//     quantize_tensor / convert refuse SEQ specs (no integer codes).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "fakequant/fake_quant_op.h"
#include "fakequant/param_layout.h"
#include "fakequant/qat.h"
#include "layers/linear.h"
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

struct SeqCase {
  std::string name;
  QuantizerSpec spec;
  Tensor x, dy;
  std::vector<float> alpha;
  std::vector<std::vector<int64_t>> members;  // element indices of each alpha, in order
};

// Alphas at 0.8 x the absmax of their elements, so about a fifth of the largest ones clip; the first
// alpha is 0.5 with elements on the grid's ties (v = 0, +-0.25, +-0.5; ternary: 0.33333334f * 1.5
// rounds to the tie 0.5), the clip edge (v = +-0.99, exactly: 0.495f / 0.5f) and past it (v = +-1).
SeqCase make_case(const std::string& scheme, const Shape& shape, uint64_t seed) {
  SeqCase c{scheme + "_" + shape.to_string() + "_" + std::to_string(seed), parse_scheme(scheme),
            Tensor::randn(shape, seed, 1.0f), Tensor::randn(shape, seed + 100, 1.0f), {}, {}};
  const ParamLayout layout = layout_of(shape, c.spec.granularity, "test");
  c.members.resize(layout.count);
  for (int64_t i = 0; i < c.x.numel(); ++i) c.members[layout.index(i)].push_back(i);
  const float edges[] = {0.0f,   0.125f, -0.125f, 0.25f, -0.25f, 0.495f, -0.495f, 0.5f, -0.5f, 0.375f,
                         0.33333334f / 2, -0.33333334f / 2};
  for (size_t k = 0; k < std::size(edges) && k < c.members[0].size(); ++k) c.x.data()[c.members[0][k]] = edges[k];
  for (int64_t p = 0; p < layout.count; ++p) {
    float absmax = 0.0f;
    for (int64_t i : c.members[p]) absmax = std::max(absmax, std::fabs(c.x.data()[i]));
    c.alpha.push_back(p == 0 ? 0.5f : 0.8f * absmax);
  }
  return c;
}

std::vector<SeqCase> seq_cases() {
  return {make_case("int2:channel:seq", Shape{7, 33}, 1),    make_case("int2:g32:seq", Shape{6, 64}, 2),
          make_case("int2:tensor:seq", Shape{5, 40}, 3),     make_case("int2:channel1:seq", Shape{9, 20}, 4),
          make_case("int3:channel:seq", Shape{7, 33}, 5),    make_case("int2:g32:seq", Shape{64, 640}, 6),
          make_case("int2:channel1:seq", Shape{80, 500}, 7), make_case("int2:channel:seq", Shape{40, 1024}, 8),
          make_case("ternary:channel:seq", Shape{7, 33}, 9), make_case("ternary:g32:seq", Shape{64, 640}, 10),
          make_case("ternary:tensor:seq", Shape{5, 40}, 11)};
}

bool is_ternary(const SeqCase& c) { return c.spec.format == ElementFormat::kTernary; }

// ParetoQ's gradient scale: 1 / sqrt(numel * qmax), qmax = 2^(bits-1) - 1, ternary 1.
double paretoq_g(const SeqCase& c) {
  return 1.0 / std::sqrt(static_cast<double>(c.x.numel()) * (is_ternary(c) ? 1 : (1 << (c.spec.bits - 1)) - 1));
}

// x and dy gathered into [alphas, elements per alpha], the reference's row layout.
std::vector<double> gathered(const Tensor& t, const SeqCase& c) {
  std::vector<double> out;
  for (const auto& row : c.members) {
    for (int64_t i : row) out.push_back(t.data()[i]);
  }
  return out;
}

const TensorFile& torch_answers() {
  static const TensorFile answer = [] {
    TensorFile request;
    for (const SeqCase& c : seq_cases()) {
      const std::string key = "seq/" + c.name + "/";
      const auto rows = static_cast<int64_t>(c.members.size()), length = c.x.numel() / rows;
      request.put(key + "x", {rows, length}, gathered(c.x, c));
      request.put(key + "dy", {rows, length}, gathered(c.dy, c));
      request.put(key + "alpha", {rows}, std::vector<double>(c.alpha.begin(), c.alpha.end()));
      // ParetoQ's n and shift: 2^(bits-1) and 0.5, ternary 1.5 and 0.
      const double n = is_ternary(c) ? 1.5 : 1 << (c.spec.bits - 1);
      request.put(key + "grid", {3}, {n, is_ternary(c) ? 0.0 : 0.5, paretoq_g(c)});
    }
    return run_torch_script("tests/fakequant/seq_reference.py", request, "fq_seq");
  }();
  return answer;
}

TEST(FakeQuantSeq, MatchesTorchReference) {
  const TensorFile& answer = torch_answers();
  double worst_y = 0, worst_dx = 0, worst_dalpha = 0, worst_autograd = 0;
  int64_t clipped = 0, elements = 0;
  for (const SeqCase& c : seq_cases()) {
    SCOPED_TRACE(c.name);
    const auto count = static_cast<int64_t>(c.alpha.size());
    Variable x(c.x, true), alpha(Tensor::from_vector(Shape{count}, c.alpha), true);
    Variable y = fake_quant(x, alpha, Variable(), c.spec);
    y.backward(c.dy);
    const std::string key = "seq/" + c.name + "/";
    const auto& y_ref = answer.tensor(key + "y").values;
    const auto& dx_ref = answer.tensor(key + "dx").values;
    const std::vector<double> y_ours = gathered(y.data(), c), dx_ours = gathered(x.grad(), c);
    ASSERT_EQ(y_ref.size(), y_ours.size());
    for (size_t i = 0; i < y_ours.size(); ++i) {
      worst_y = std::max(worst_y, std::fabs(y_ours[i] - y_ref[i]));
      worst_dx = std::max(worst_dx, std::fabs(dx_ours[i] - dx_ref[i]));
      clipped += dx_ref[i] == 0.0;
    }
    elements += c.x.numel();
    const auto& da_ref = answer.tensor(key + "dalpha").values;
    const auto& da_autograd = answer.tensor(key + "autograd_dalpha").values;
    for (int64_t p = 0; p < count; ++p) {
      const double ours = alpha.grad().data()[p];
      worst_dalpha = std::max(worst_dalpha, std::fabs(ours - da_ref[p]) / std::max(1.0, std::fabs(da_ref[p])));
      // Ternary: the reference's clipped term is +-1, autograd's the clipped level +-2/3 (docs/seq.md §3).
      if (is_ternary(c)) continue;
      worst_autograd = std::max(worst_autograd, std::fabs(ours - da_autograd[p]) / std::max(1.0, std::fabs(da_autograd[p])));
    }
  }
  std::printf("seq vs torch: %lld elements (%lld clipped), max abs error y %.3g dx %.3g, dalpha rel %.3g "
              "(vs autograd through a straight-through round %.3g)\n",
              static_cast<long long>(elements), static_cast<long long>(clipped), worst_y, worst_dx, worst_dalpha,
              worst_autograd);
  EXPECT_EQ(worst_y, 0.0);  // bit-identical values
  EXPECT_EQ(worst_dx, 0.0);
  EXPECT_LE(worst_dalpha, 1e-6);
  EXPECT_LE(worst_autograd, 1e-5);
  EXPECT_GT(clipped, elements / 100);  // the clipped branch was exercised
}

// The 2-bit levels and the edges, by hand: alpha = 2, v = x / 2.
TEST(FakeQuantSeq, TwoBitGridHasFourBalancedLevelsAndStretchedClip) {
  const std::vector<float> x = {0.0f, 0.3f, -0.3f, 1.2f, -1.2f, 1.98f, 1.99f, 5.0f, -5.0f, 1.0f, -1.0f};
  //                   v =      0    0.15  -0.15  0.6   -0.6   0.99   0.995  2.5   -2.5   0.5   -0.5
  const std::vector<float> y_expected = {0.5f, 0.5f, -0.5f, 1.5f, -1.5f, 1.5f, 1.5f, 1.5f, -1.5f, 0.5f, -1.5f};
  const std::vector<float> dx_expected = {1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1};
  Variable xv(Tensor::from_vector(Shape{11}, x), true), alpha(Tensor::full(Shape{1}, 2.0f), true);
  Variable y = fake_quant(xv, alpha, Variable(), parse_scheme("int2:tensor:seq"));
  y.backward(Tensor::full(Shape{11}, 1.0f));
  EXPECT_EQ(y.data().to_vector(), y_expected);  // ties (v = 0, 0.5, -0.5) round half to even
  EXPECT_EQ(xv.grad().to_vector(), dx_expected);
  // dalpha = g * (sum inside of q - v, plus +-3/4 per clipped element), g = 1 / sqrt(11 * 1).
  double sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i] / 2.0f;
    sum += dx_expected[i] ? y_expected[i] / 2.0 - v : (v < 0 ? -0.75 : 0.75);
  }
  EXPECT_NEAR(alpha.grad().item(), sum / std::sqrt(11.0), 1e-6);
}

TEST(FakeQuantSeq, QuantizerStartsAtRowAbsmaxLearnsAlphaAndRefusesIntegerCodes) {
  layers::Linear linear(32, 4, false, 3);
  prepare_qat(linear, {QuantRule{"*", parse_scheme("int2:channel:seq"), std::nullopt, false}});
  const Variable y = linear.forward(Variable(Tensor::randn(Shape{2, 32}, 5, 1.0f)));
  Variable alpha;
  for (const auto& [name, p] : linear.named_parameters()) {
    if (name == "weight_quantizer.scale") alpha = p;
  }
  ASSERT_TRUE(alpha.defined());
  ASSERT_TRUE(alpha.requires_grad());
  const float* w = linear.weight().data().data();
  for (int64_t r = 0; r < 4; ++r) {
    float absmax = 0.0f;
    for (int64_t j = 0; j < 32; ++j) absmax = std::max(absmax, std::fabs(w[r * 32 + j]));
    EXPECT_EQ(alpha.data().data()[r], absmax) << "row " << r;
  }
  autograd::sum(autograd::mul(y, y)).backward();
  double grad_norm = 0.0;
  for (int64_t r = 0; r < 4; ++r) grad_norm += std::fabs(alpha.grad().data()[r]);
  EXPECT_GT(grad_norm, 0.0);
  EXPECT_THAT(error_of([&] { convert(linear); }),
              HasSubstr("int2 sym per-channel(0) seq minmax quantizes onto SEQ's balanced levels (ParetoQ), which have "
                        "no integer codes"));
}

TEST(FakeQuantSeq, SchemesAndErrors) {
  EXPECT_EQ(parse_scheme("int2:g32:seq").estimator, Estimator::kSeq);
  EXPECT_EQ(estimator_from_name("seq"), Estimator::kSeq);
  EXPECT_EQ(parse_scheme("ternary:channel:seq").format, ElementFormat::kTernary);
  EXPECT_THAT(error_of([] { parse_scheme("int2:asym:seq"); }),
              HasSubstr("SEQ (ParetoQ) has balanced levels without a zero point (int<bits> sym) or ternary levels"));
  EXPECT_THAT(error_of([] { parse_scheme("fp4_e2m1:g32:seq"); }), HasSubstr("use a symmetric integer format or ternary"));
  EXPECT_THAT(error_of([] { parse_scheme("int2:g32:dq6:seq"); }), HasSubstr("SEQ learns its clipping levels alpha"));
}

}  // namespace
}  // namespace qforge::testing
