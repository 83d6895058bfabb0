// Error messages of the shape ops and of sum/mean: each names the op and the offending
// shape, axis or value.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "tests/support/error_of.h"

namespace qforge::autograd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using qforge::testing::error_of;

Variable ones(const Shape& shape) { return Variable(Tensor::full(shape, 1.0f), true); }

TEST(ShapeErrors, ReshapeWrongSize) {
  EXPECT_THAT(error_of([] { reshape(ones({2, 3}), {4, 2}); }),
              AllOf(HasSubstr("reshape"), HasSubstr("6 elements"), HasSubstr("[4, 2]")));
  EXPECT_THAT(error_of([] { reshape(ones({2, 3}), {-1, 4}); }), AllOf(HasSubstr("reshape"), HasSubstr("6 elements")));
  EXPECT_THAT(error_of([] { reshape(ones({2, 3}), {-1, -1}); }), AllOf(HasSubstr("reshape"), HasSubstr("-1")));
}

TEST(ShapeErrors, AxisOutOfRange) {
  EXPECT_THAT(error_of([] { max(ones({2, 3}), 2); }),
              AllOf(HasSubstr("max: axis 2 out of range"), HasSubstr("[2, 3]")));
  EXPECT_THAT(error_of([] { max(ones({2, 3}), -3); }), HasSubstr("max: axis -3 out of range"));
  EXPECT_THAT(error_of([] { transpose(ones({2, 3}), 0, 2); }), HasSubstr("transpose: axis 2 out of range"));
  EXPECT_THAT(error_of([] { slice(ones({2, 3}), -3, 0, 1); }), HasSubstr("slice: axis -3 out of range"));
  EXPECT_THAT(error_of([] { concat({ones({2, 3})}, 2); }), HasSubstr("concat: axis 2 out of range"));
  EXPECT_THAT(error_of([] { gather(ones({2, 3}), 5, IndexTensor({2, 3}, std::vector<int64_t>(6, 0))); }),
              HasSubstr("gather: axis 5 out of range"));
}

TEST(ShapeErrors, MaxOverEmptyAxis) {
  EXPECT_THAT(error_of([] { max(ones({2, 0}), 1); }), AllOf(HasSubstr("max"), HasSubstr("size 0"), HasSubstr("[2, 0]")));
}

TEST(ShapeErrors, PermuteNotAPermutation) {
  EXPECT_THAT(error_of([] { permute(ones({2, 3, 4}), {0, 0, 1}); }),
              AllOf(HasSubstr("permute: order [0, 0, 1] is not a permutation"), HasSubstr("[2, 3, 4]")));
  EXPECT_THAT(error_of([] { permute(ones({2, 3, 4}), {0, 1}); }), HasSubstr("permute: order [0, 1]"));
  EXPECT_THAT(error_of([] { permute(ones({2, 3}), {0, 2}); }), HasSubstr("permute: order [0, 2]"));
  EXPECT_NO_THROW(permute(ones({2, 3}), {-1, -2}));  // negative axes are fine
}

TEST(ShapeErrors, ConcatMismatch) {
  EXPECT_THAT(error_of([] { concat({ones({2, 3}), ones({2, 4})}, 0); }),
              AllOf(HasSubstr("concat: input 1 has shape [2, 4]"), HasSubstr("[2, 3]")));
  EXPECT_THAT(error_of([] { concat({ones({2, 3}), ones({2, 3, 1})}, 1); }),
              AllOf(HasSubstr("concat"), HasSubstr("[2, 3, 1]")));
  EXPECT_THAT(error_of([] { concat({}, 0); }), HasSubstr("concat: no inputs"));
}

TEST(ShapeErrors, GatherIndex) {
  EXPECT_THAT(error_of([] { gather(ones({2, 3}), 1, IndexTensor({2, 2}, {0, 1, 3, 0})); }),
              AllOf(HasSubstr("gather: index 3 out of range"), HasSubstr("size 3")));
  EXPECT_THAT(error_of([] { gather(ones({2, 3}), 1, IndexTensor({2, 1}, {0, -1})); }),
              HasSubstr("gather: index -1 out of range"));
  EXPECT_THAT(error_of([] { gather(ones({2, 3}), 1, IndexTensor({3}, {0, 1, 2})); }),
              AllOf(HasSubstr("gather"), HasSubstr("[3]"), HasSubstr("rank")));
  EXPECT_THAT(error_of([] { gather(ones({2, 3}), 1, IndexTensor({3, 1}, {0, 1, 2})); }),
              AllOf(HasSubstr("gather: index shape [3, 1] exceeds x shape [2, 3]"), HasSubstr("dimension 0")));
}

TEST(ShapeErrors, EmbeddingIds) {
  EXPECT_THAT(error_of([] { embedding(ones({10, 4}), IndexTensor({3}, {1, 12, 2})); }),
              HasSubstr("embedding: id 12 out of range for vocabulary 10"));
  EXPECT_THAT(error_of([] { embedding(ones({10, 4}), IndexTensor({1}, {-2})); }),
              HasSubstr("embedding: id -2 out of range"));
  EXPECT_THAT(error_of([] { embedding(ones({10}), IndexTensor({1}, {0})); }),
              AllOf(HasSubstr("embedding: weight"), HasSubstr("[10]")));
  EXPECT_THAT(error_of([] { embedding(ones({10, 4}), IndexTensor({1, 1, 1, 1}, {0})); }),
              AllOf(HasSubstr("embedding: ids"), HasSubstr("[1, 1, 1, 1]")));
}

TEST(ReduceErrors, RepeatedAxes) {
  EXPECT_THAT(error_of([] { sum(ones({2, 3}), {1, 1}); }), HasSubstr("sum: axis 1 repeated"));
  EXPECT_THAT(error_of([] { sum(ones({2, 3}), {1, -1}); }), HasSubstr("sum: axis -1 repeated"));
  EXPECT_THAT(error_of([] { mean(ones({2, 3}), {0, -2}); }), HasSubstr("mean: axis -2 repeated"));
}

TEST(ReduceErrors, AxesOutOfRange) {
  EXPECT_THAT(error_of([] { sum(ones({2, 3}), {2}); }),
              AllOf(HasSubstr("sum: axis 2 out of range"), HasSubstr("[2, 3]")));
  EXPECT_THAT(error_of([] { mean(ones({2, 3}), {0, -3}); }),
              AllOf(HasSubstr("mean: axis -3 out of range"), HasSubstr("[2, 3]")));
  EXPECT_THAT(error_of([] { mean(ones({2, 0})); }), HasSubstr("mean: empty tensor"));
}

}  // namespace
}  // namespace qforge::autograd
