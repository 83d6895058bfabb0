// dropout: its mask comes from a counter-based hash, not from PyTorch's generator, so instead of
// a parity case it is checked here for its statistics, determinism, scaling and gradient.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace qforge::autograd {
namespace {

constexpr int64_t kElements = 100000;

// Inputs bounded away from zero, so a zero output always means "dropped".
Tensor nonzero_input(int64_t n, uint64_t seed) {
  Tensor t = Tensor::uniform(Shape{n}, 0.5f, 2.0f, seed);
  for (int64_t i = 0; i < n; i += 2) t.data()[i] = -t.data()[i];
  return t;
}

std::vector<bool> kept(const Tensor& out) {
  std::vector<bool> mask(out.numel());
  for (int64_t i = 0; i < out.numel(); ++i) mask[i] = out.data()[i] != 0.0f;
  return mask;
}

// Data parallel: a shard of rows [first, first + rows) drops exactly those rows of the whole batch's mask.
TEST(Dropout, ShardAtItsFirstRowDropsTheWholeBatchRows) {
  const Tensor whole = Tensor::uniform(Shape{8, 5, 16}, 0.5f, 2.0f, 3);
  const std::vector<bool> full = kept(dropout(Variable(whole), 0.3f, 77).data());
  for (int64_t first : {0, 2, 6}) {
    const int64_t per_row = 5 * 16;
    const Tensor part = Tensor::from_vector(Shape{2, 5, 16}, std::vector<float>(whole.data() + first * per_row,
                                                                                whole.data() + (first + 2) * per_row));
    set_dropout_first_row(first);
    const std::vector<bool> shard = kept(dropout(Variable(part), 0.3f, 77).data());
    set_dropout_first_row(0);
    EXPECT_EQ(shard, std::vector<bool>(full.begin() + first * per_row, full.begin() + (first + 2) * per_row)) << first;
    // Without the offset the shard would draw the first rows' mask (so the check above can fail).
    if (first > 0)
      EXPECT_NE(kept(dropout(Variable(part), 0.3f, 77).data()),
                std::vector<bool>(full.begin() + first * per_row, full.begin() + (first + 2) * per_row));
  }
}

TEST(Dropout, DropsFractionPWithinThreeSigma) {
  const Variable x(nonzero_input(kElements, 1));
  for (float p : {0.1f, 0.5f, 0.9f}) {
    const Tensor out = dropout(x, p, 42).data();
    int64_t dropped = 0;
    for (int64_t i = 0; i < kElements; ++i) dropped += out.data()[i] == 0.0f;
    const double sigma = std::sqrt(static_cast<double>(kElements) * p * (1.0 - p));
    EXPECT_LE(std::abs(static_cast<double>(dropped) - kElements * static_cast<double>(p)), 3.0 * sigma) << "p " << p;
  }
}

TEST(Dropout, SurvivorsAreScaledByInverseKeepProbability) {
  const Tensor in = nonzero_input(kElements, 2);
  for (float p : {0.5f, 0.3f}) {
    const Tensor out = dropout(Variable(in), p, 7).data();
    const float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < kElements; ++i) {
      if (out.data()[i] == 0.0f) continue;
      ASSERT_EQ(out.data()[i], in.data()[i] * scale) << "element " << i;  // exactly x * (1 / (1 - p))
      ASSERT_NEAR(out.data()[i], in.data()[i] / (1.0f - p), 1e-6f * std::abs(in.data()[i] / (1.0f - p)));
    }
  }
  // With p = 0.5 the scale is exactly 2, so survivors equal x / (1 - p) bit for bit.
  const Tensor half = dropout(Variable(in), 0.5f, 9).data();
  for (int64_t i = 0; i < kElements; ++i) {
    if (half.data()[i] != 0.0f) {
      ASSERT_EQ(half.data()[i], in.data()[i] / 0.5f);
    }
  }
}

TEST(Dropout, MaskIsAFunctionOfSeed) {
  const Variable x(nonzero_input(kElements, 3));
  EXPECT_EQ(kept(dropout(x, 0.5f, 123).data()), kept(dropout(x, 0.5f, 123).data()));
  const std::vector<bool> a = kept(dropout(x, 0.5f, 123).data()), b = kept(dropout(x, 0.5f, 124).data());
  int64_t differ = 0;
  for (int64_t i = 0; i < kElements; ++i) differ += a[i] != b[i];
  // Independent masks with p = 0.5 disagree on half of the elements.
  EXPECT_GT(differ, kElements / 3);
}

TEST(Dropout, MaskDoesNotDependOnThreadCount) {
  const Variable x(nonzero_input(kElements, 4));
  const int previous = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor one = dropout(x, 0.4f, 99).data();
  omp_set_num_threads(2);
  const Tensor two = dropout(x, 0.4f, 99).data();
  omp_set_num_threads(previous);
  EXPECT_EQ(one.to_vector(), two.to_vector());
}

TEST(Dropout, IdentityInEvalModeOrWithZeroP) {
  const Variable x(nonzero_input(1000, 5), true);
  EXPECT_EQ(dropout(x, 0.5f, 1, false).data().to_vector(), x.data().to_vector());
  EXPECT_EQ(dropout(x, 0.0f, 1).data().to_vector(), x.data().to_vector());
  Variable y = dropout(x, 0.5f, 1, false);
  sum(y).backward();
  for (float g : x.grad().to_vector()) EXPECT_EQ(g, 1.0f);
}

// L = sum(dropout(x) * u); dL/dx = mask * scale * u, checked against central differences.
TEST(Dropout, GradientMatchesFiniteDifferences) {
  const int64_t n = 4096;
  const float p = 0.3f;
  Variable x(nonzero_input(n, 6), true);
  const Tensor upstream = Tensor::randn(Shape{n}, 8);
  dropout(x, p, 77).backward(upstream);
  const Tensor mask = dropout(Variable(Tensor::full(Shape{n}, 1.0f)), p, 77).data();  // mask * scale
  float* data = x.mutable_data().data();
  NoGradGuard no_grad;
  for (int64_t i = 0; i < n; ++i) {
    const float original = data[i], step = 1e-2f;
    data[i] = original + step;
    const double plus = dropout(x, p, 77).data().data()[i] * static_cast<double>(upstream.data()[i]);
    data[i] = original - step;
    const double minus = dropout(x, p, 77).data().data()[i] * static_cast<double>(upstream.data()[i]);
    data[i] = original;
    const double taken = static_cast<double>(original + step) - static_cast<double>(original - step);
    const double numeric = (plus - minus) / taken;
    ASSERT_NEAR(numeric, x.grad().data()[i], 1e-3 * (1.0 + std::abs(numeric))) << "element " << i;
    ASSERT_EQ(x.grad().data()[i], mask.data()[i] * upstream.data()[i]) << "element " << i;
  }
}

TEST(Dropout, RejectsPOutsideZeroOne) {
  const Variable x(Tensor::zeros(Shape{4}), true);
  for (float p : {1.0f, -0.1f, 1.5f, std::nanf("")}) {
    try {
      dropout(x, p, 1);
      ADD_FAILURE() << "no throw for p " << p;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("dropout: p must be in [0, 1)"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace qforge::autograd
