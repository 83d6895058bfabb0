// fakequant::QuipSharpWeightQuantizer (fakequant/quip_sharp_weight.h): its forward is
// diag(SV) T_out^T (Wscale * E8P(codes)) T_in diag(SU), checked against dense transform matrices built
// here column by column; its gradient to SU and SV against central differences; a quantizer of the
// saved sizes filled by a state-dict load gives the same weight; bad states are refused by name; a row
// slice of a fused state (quip-sharp's qkv_proj / upgate_proj) is those rows of the whole state's weight.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "autograd/ops.h"
#include "fakequant/formats/e8p.h"
#include "fakequant/hadamard.h"
#include "fakequant/quip_sharp_weight.h"

namespace qforge::fakequant {
namespace {

namespace ag = qforge::autograd;

// rows 24 = 12 * 2 takes the Kronecker transform; cols 16 the plain Walsh-Hadamard one.
QuipSharpState random_state(int64_t rows, int64_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> code(0, kE8pCodes - 1);
  std::uniform_real_distribution<float> value(0.5f, 1.5f);
  QuipSharpState s;
  s.rows = rows, s.cols = cols, s.wscale = 0.0371f;
  for (int64_t i = 0; i < rows * cols / kE8pDim; ++i) s.codes.push_back(code(rng));
  for (int64_t j = 0; j < cols; ++j) s.su.push_back(value(rng) * (rng() % 2 ? 1.0f : -1.0f));
  for (int64_t i = 0; i < rows; ++i) s.sv.push_back(value(rng) * (rng() % 2 ? 1.0f : -1.0f));
  return s;
}

// Dense T (n x n) from the transform applied to unit vectors.
std::vector<double> dense(int64_t n) {
  const HadamardTransform t(n);
  std::vector<double> m(static_cast<size_t>(n * n));
  for (int64_t j = 0; j < n; ++j) {
    std::vector<double> e(static_cast<size_t>(n), 0.0);
    e[j] = 1, t.apply(e.data());
    for (int64_t i = 0; i < n; ++i) m[i * n + j] = e[i];
  }
  return m;
}

TEST(QuipSharpWeight, ForwardIsTheDenseQuipSharpWeight) {
  const QuipSharpState s = random_state(24, 16, 1);
  const std::vector<double> t_in = dense(s.cols), t_out = dense(s.rows);
  // W = diag(SV) T_out^T (Wscale C) T_in diag(SU), C the decoded codes.
  std::vector<double> c(static_cast<size_t>(s.rows * s.cols));
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t k = 0; k < s.cols / 8; ++k) {
      const auto v = e8p_decode(static_cast<uint16_t>(s.codes[r * (s.cols / 8) + k]));
      for (int i = 0; i < 8; ++i) c[r * s.cols + 8 * k + i] = v[i];
    }
  QuipSharpWeightQuantizer q(s);
  const std::vector<float> got = q.forward(ag::Variable(ag::Tensor(ag::Shape{s.rows, s.cols}))).data().to_vector();
  EXPECT_EQ(got, quip_sharp_weight(s));
  double worst = 0;
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t col = 0; col < s.cols; ++col) {
      double w = 0;
      for (int64_t a = 0; a < s.rows; ++a)
        for (int64_t b = 0; b < s.cols; ++b) w += t_out[a * s.rows + r] * c[a * s.cols + b] * t_in[b * s.cols + col];
      w *= static_cast<double>(s.wscale) * s.sv[r] * s.su[col];
      worst = std::max(worst, std::abs(w - got[r * s.cols + col]) / (std::abs(w) + 1e-3));
    }
  EXPECT_LT(worst, 1e-6);
}

TEST(QuipSharpWeight, GradientOfSignsMatchesCentralDifferences) {
  const QuipSharpState s = random_state(24, 16, 2);
  QuipSharpWeightQuantizer q(s);
  q.set_signs_trainable(true);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  ag::Tensor g(ag::Shape{s.rows, s.cols});
  for (int64_t i = 0; i < g.numel(); ++i) g.data()[i] = normal(rng);
  ag::sum(ag::mul(q.forward(ag::Variable(ag::Tensor(ag::Shape{s.rows, s.cols}))), ag::Variable(g))).backward();
  const auto params = q.named_parameters();
  // <G, W(state)> in double; W is linear in each SU_j and SV_i, so a central difference is exact but for rounding.
  const auto objective = [&](const QuipSharpState& st) {
    const std::vector<float> w = quip_sharp_weight(st);
    double total = 0;
    for (size_t i = 0; i < w.size(); ++i) total += static_cast<double>(g.data()[i]) * w[i];
    return total;
  };
  for (const auto& [name, p] : params) {
    if (name == "wscale") {
      EXPECT_FALSE(p.has_grad());
      continue;
    }
    double worst = 0;
    for (int64_t i = 0; i < p.numel(); ++i) {
      QuipSharpState plus = s, minus = s;
      (name == "su" ? plus.su : plus.sv)[i] += 0.25f;
      (name == "su" ? minus.su : minus.sv)[i] -= 0.25f;
      const double numeric = (objective(plus) - objective(minus)) / 0.5;
      worst = std::max(worst, std::abs(numeric - p.grad().data()[i]) / (std::abs(numeric) + 1e-2));
    }
    EXPECT_LT(worst, 1e-4) << name;
  }
}

TEST(QuipSharpWeight, SavedSizesFilledByALoadAndBadStatesRefused) {
  const QuipSharpState s = random_state(24, 16, 4);
  QuipSharpWeightQuantizer q(s);
  const layers::StateDict state = q.state_dict();
  std::map<std::string, std::vector<int64_t>> prefixed;
  for (const auto& [name, buffer] : state.buffers) prefixed["l.weight_quantizer." + name] = buffer;
  EXPECT_EQ(saved_quip_sharp_quantizer("m.weight_quantizer.", prefixed), nullptr);
  auto blank = saved_quip_sharp_quantizer("l.weight_quantizer.", prefixed);
  ASSERT_TRUE(blank);
  const ag::Variable latent(ag::Tensor(ag::Shape{s.rows, s.cols}));
  EXPECT_NE(blank->forward(latent).data().to_vector(), quip_sharp_weight(s));
  blank->load_state_dict(state);
  EXPECT_EQ(blank->forward(latent).data().to_vector(), quip_sharp_weight(s));

  QuipSharpState bad = s;
  bad.codes[3] = kE8pCodes;
  EXPECT_THAT([&] { QuipSharpWeightQuantizer x(bad); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("code 65536 is not a 16-bit E8P code")));
  bad = s, bad.sv.pop_back();
  EXPECT_THAT([&] { QuipSharpWeightQuantizer x(bad); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("sv has 23 values, expected 24")));
  EXPECT_THAT([&] { q.forward(ag::Variable(ag::Tensor(ag::Shape{16, 24}))); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("is not [24, 16]")));
}

// Slices [0, 8), [8, 20), [20, 24) of a 24-row fused state: each forward is exactly its rows of the whole
// weight (the transform over the outputs mixes all 24 rows, so the rows are not a 24-row state's own); the
// slice is saved in the layout buffer and rebuilt by a load; slices outside the rows are refused.
TEST(QuipSharpWeight, RowSliceOfAFusedStateIsItsRowsOfTheWholeWeight) {
  const QuipSharpState whole = random_state(24, 16, 5);
  const std::vector<float> full = quip_sharp_weight(whole);
  for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 8}, {8, 20}, {20, 24}}) {
    QuipSharpState s = whole;
    s.row_begin = begin, s.row_end = end;
    const std::vector<float> rows(full.begin() + begin * 16, full.begin() + end * 16);
    EXPECT_EQ(quip_sharp_weight(s), rows) << begin;
    QuipSharpWeightQuantizer q(s);
    const ag::Variable latent(ag::Tensor(ag::Shape{end - begin, 16}));
    EXPECT_EQ(q.forward(latent).data().to_vector(), rows) << begin;
    const layers::StateDict state = q.state_dict();
    EXPECT_EQ(state.buffers.at("quip_sharp_layout"), (std::vector<int64_t>{24, 16, 1, begin, end}));
    std::map<std::string, std::vector<int64_t>> prefixed;
    for (const auto& [name, buffer] : state.buffers) prefixed["l.weight_quantizer." + name] = buffer;
    auto blank = saved_quip_sharp_quantizer("l.weight_quantizer.", prefixed);
    ASSERT_TRUE(blank);
    blank->load_state_dict(state);
    EXPECT_EQ(blank->forward(latent).data().to_vector(), rows) << begin;
    EXPECT_EQ(blank->state().row_begin, begin);
  }
  QuipSharpState bad = whole;
  bad.row_begin = 20, bad.row_end = 28;
  EXPECT_THAT([&] { QuipSharpWeightQuantizer x(bad); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("rows [20, 28) are not a slice of the 24 fused rows")));
  QuipSharpState slice = whole;
  slice.row_begin = 8, slice.row_end = 20;
  QuipSharpWeightQuantizer q(slice);
  EXPECT_THAT([&] { q.forward(ag::Variable(ag::Tensor(ag::Shape{24, 16}))); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("is not [12, 16]")));
}

}  // namespace
}  // namespace qforge::fakequant
