// packed_matmul against matmul on the same weights: a PackedWeight that stores plain floats makes
// the two ops compute the same products, so forward and the input gradient must agree to rounding,
// and the packed weight must receive no gradient.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "autograd/ops.h"
#include "tests/layers/float_rows_weight.h"

namespace qforge::autograd {
namespace {

using FloatRows = qforge::testing::FloatRowsWeight;

Tensor random_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = normal(rng);
  return t;
}

TEST(PackedMatmul, MatchesDenseMatmulForwardAndInputGradient) {
  // 300 rows: more than two 128-row tiles and a partial one.
  const Tensor w = random_tensor(Shape{300, 72}, 1);
  auto packed = std::make_shared<FloatRows>(w);
  Variable x1(random_tensor(Shape{2, 5, 72}, 2), true), x2(x1.data().clone(), true);
  Variable y1 = packed_matmul(x1, packed);
  Variable y2 = matmul(x2, Variable(w), false, true);
  ASSERT_EQ(y1.shape().to_vector(), (std::vector<int64_t>{2, 5, 300}));
  const Tensor g = random_tensor(y1.shape(), 3);
  y1.backward(g);
  y2.backward(g);
  float max_y = 0, max_dx = 0;
  for (int64_t i = 0; i < y1.numel(); ++i) max_y = std::max(max_y, std::abs(y1.data().data()[i] - y2.data().data()[i]));
  for (int64_t i = 0; i < x1.numel(); ++i) {
    max_dx = std::max(max_dx, std::abs(x1.grad().data()[i] - x2.grad().data()[i]));
  }
  EXPECT_LT(max_y, 1e-4f);
  EXPECT_LT(max_dx, 1e-4f);
  EXPECT_GT(std::abs(x1.grad().data()[0]), 0.0f);
}

TEST(PackedMatmul, RejectsMismatchedInput) {
  auto packed = std::make_shared<FloatRows>(random_tensor(Shape{4, 8}, 1));
  EXPECT_THROW(packed_matmul(Variable(Tensor(Shape{3, 7})), packed), std::invalid_argument);
  EXPECT_THROW(packed_matmul(Variable(Tensor(Shape{3, 8})), nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::autograd
