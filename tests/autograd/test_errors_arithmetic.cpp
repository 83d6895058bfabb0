// Error messages of the arithmetic, matmul and reduction ops name the op and both shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "autograd/ops.h"
#include "tests/support/error_of.h"

namespace qforge::autograd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using qforge::testing::error_of;


Variable zeros(const Shape& shape) { return Variable(Tensor::zeros(shape), true); }

TEST(ArithmeticErrors, NonBroadcastableShapesNameOpAndShapes) {
  const Variable a = zeros({2, 3}), b = zeros({4, 3});
  EXPECT_THAT(error_of([&] { add(a, b); }), AllOf(HasSubstr("add"), HasSubstr("[2, 3]"), HasSubstr("[4, 3]")));
  EXPECT_THAT(error_of([&] { sub(a, b); }), HasSubstr("sub: shapes [2, 3] and [4, 3]"));
  EXPECT_THAT(error_of([&] { mul(a, zeros({2})); }), HasSubstr("mul: shapes [2, 3] and [2]"));
  EXPECT_THAT(error_of([&] { div(zeros({3, 1, 2}), zeros({2, 3})); }), HasSubstr("div: shapes [3, 1, 2] and [2, 3]"));
}

TEST(MatmulErrors, InnerDimensionMismatch) {
  EXPECT_THAT(error_of([] { matmul(zeros({2, 3}), zeros({4, 5})); }),
              AllOf(HasSubstr("matmul"), HasSubstr("[2, 3]"), HasSubstr("[4, 5]"), HasSubstr("3 != 4")));
  EXPECT_THAT(error_of([] { matmul(zeros({2, 3}), zeros({2, 5}), false, true); }), HasSubstr("[2, 5]^T"));
}

TEST(MatmulErrors, RankAndBatchMismatch) {
  EXPECT_THAT(error_of([] { matmul(zeros({3}), zeros({3, 2})); }), HasSubstr("at least 2 dimensions"));
  EXPECT_THAT(error_of([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 4})); }), HasSubstr("matmul: shapes [2] and [3]"));
}

TEST(ReductionErrors, AxesOutOfRangeOrRepeated) {
  const Variable x = zeros({2, 3});
  EXPECT_THAT(error_of([&] { sum(x, {2}); }), HasSubstr("sum: axis 2 out of range for shape [2, 3]"));
  EXPECT_THAT(error_of([&] { mean(x, {-3}); }), HasSubstr("mean: axis -3 out of range"));
  EXPECT_THAT(error_of([&] { sum(x, {1, -1}); }), HasSubstr("repeated"));
}

TEST(TensorErrors, TooManyDimensionsAndBadSizes) {
  EXPECT_THAT(error_of([] { Shape({1, 2, 3, 4, 5}); }), HasSubstr("at most 4"));
  EXPECT_THAT(error_of([] { Tensor::from_vector({2, 2}, {1.0f}); }), HasSubstr("1 values for shape [2, 2]"));
  EXPECT_THAT(error_of([] { Tensor::zeros({2, 3}).reshaped({4, -1}); }), HasSubstr("cannot view 6 elements"));
}

}  // namespace
}  // namespace qforge::autograd
