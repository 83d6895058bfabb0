// Error messages of the elementwise, softmax and loss ops, plus the edge cases the op-case table
// cannot express (NaN when every target is ignored, the default ignore_index -100, the parallel
// row kernels on tensors above the OpenMP threshold).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tests/support/error_of.h"

namespace {

namespace ag = qforge::autograd;
using ag::IndexTensor;
using ag::Shape;
using ag::Tensor;
using ag::Variable;
using ::testing::AllOf;
using ::testing::HasSubstr;
using qforge::testing::error_of;


Variable param(const Shape& shape, uint64_t seed = 1) { return Variable(Tensor::randn(shape, seed), true); }

TEST(SoftmaxErrors, AxisOutOfRange) {
  const Variable x = param({2, 3});
  EXPECT_THAT(error_of([&] { ag::softmax(x, 2); }), AllOf(HasSubstr("softmax"), HasSubstr("axis 2"), HasSubstr("[2, 3]")));
  EXPECT_THAT(error_of([&] { ag::softmax(x, -3); }), AllOf(HasSubstr("softmax"), HasSubstr("axis -3")));
  EXPECT_THAT(error_of([&] { ag::log_softmax(x, 5); }),
              AllOf(HasSubstr("log_softmax"), HasSubstr("axis 5"), HasSubstr("[2, 3]")));
}

TEST(CrossEntropyErrors, LogitsMustBeTwoDimensional) {
  const Variable x = param({2, 3, 4});
  EXPECT_THAT(error_of([&] { ag::cross_entropy(x, IndexTensor(Shape{2}, {0, 1})); }),
              AllOf(HasSubstr("cross_entropy"), HasSubstr("[2, 3, 4]")));
}

TEST(CrossEntropyErrors, TargetsShapeMustMatchRows) {
  const Variable x = param({3, 4});
  EXPECT_THAT(error_of([&] { ag::cross_entropy(x, IndexTensor(Shape{2}, {0, 1})); }),
              AllOf(HasSubstr("cross_entropy"), HasSubstr("[2]"), HasSubstr("[3, 4]")));
  EXPECT_THAT(error_of([&] { ag::cross_entropy(x, IndexTensor(Shape{3, 1}, {0, 1, 2})); }),
              AllOf(HasSubstr("cross_entropy"), HasSubstr("[3, 1]")));
}

TEST(CrossEntropyErrors, TargetOutOfRangeNamesRowAndValue) {
  const Variable x = param({3, 4});
  EXPECT_THAT(error_of([&] { ag::cross_entropy(x, IndexTensor(Shape{3}, {0, 4, 1})); }),
              AllOf(HasSubstr("cross_entropy"), HasSubstr("target 4"), HasSubstr("row 1"), HasSubstr("4 classes")));
  EXPECT_THAT(error_of([&] { ag::cross_entropy(x, IndexTensor(Shape{3}, {0, 1, -1})); }),
              AllOf(HasSubstr("target -1"), HasSubstr("row 2")));
  // A value equal to ignore_index is fine even when it is not a class.
  EXPECT_NO_THROW(ag::cross_entropy(x, IndexTensor(Shape{3}, {0, 7, 1}), 7));
}

TEST(MseLossErrors, ShapesMustMatchExactly) {
  EXPECT_THAT(error_of([&] { ag::mse_loss(param({2, 3}), param({3})); }),
              AllOf(HasSubstr("mse_loss"), HasSubstr("[2, 3]"), HasSubstr("[3]")));
  EXPECT_THAT(error_of([&] { ag::mse_loss(param({2, 3}), param({3, 2})); }),
              AllOf(HasSubstr("mse_loss"), HasSubstr("[2, 3]"), HasSubstr("[3, 2]")));
}

// PyTorch: mean over zero non-ignored targets is 0/0 = NaN, and the gradient is all zeros.
TEST(CrossEntropyEdgeCases, AllRowsIgnoredGivesNaNAndZeroGradient) {
  Variable x = param({3, 4});
  Variable loss = ag::cross_entropy(x, IndexTensor(Shape{3}, {-100, -100, -100}));
  EXPECT_TRUE(std::isnan(loss.item()));
  loss.backward();
  for (float v : x.grad().to_vector()) EXPECT_EQ(v, 0.0f);
}

// Default ignore_index is -100: those rows leave both the mean and the gradient.
TEST(CrossEntropyEdgeCases, DefaultIgnoreIndexDropsRows) {
  Variable x = param({4, 5});
  const std::vector<float> all = x.data().to_vector();
  std::vector<float> rows_0_and_2(all.begin(), all.begin() + 5);
  rows_0_and_2.insert(rows_0_and_2.end(), all.begin() + 10, all.begin() + 15);
  Variable kept(Tensor::from_vector(Shape{2, 5}, rows_0_and_2), true);
  Variable loss = ag::cross_entropy(x, IndexTensor(Shape{4}, {3, -100, 1, -100}));
  Variable reference = ag::cross_entropy(kept, IndexTensor(Shape{2}, {3, 1}));
  EXPECT_FLOAT_EQ(loss.item(), reference.item());
  loss.backward();
  reference.backward();
  const std::vector<float> g = x.grad().to_vector(), r = kept.grad().to_vector();
  for (int j = 0; j < 5; ++j) {
    EXPECT_FLOAT_EQ(g[j], r[j]);
    EXPECT_FLOAT_EQ(g[10 + j], r[5 + j]);
    EXPECT_EQ(g[5 + j], 0.0f);
    EXPECT_EQ(g[15 + j], 0.0f);
  }
}

// Large inputs take the OpenMP paths; each row must give what the same row gives alone.
TEST(LossEdgeCases, ParallelRowsMatchSingleRows) {
  const int64_t rows = 64, cols = 1024;
  Variable x = param({rows, cols}, 7);
  std::vector<int64_t> ids(rows);
  for (int64_t i = 0; i < rows; ++i) ids[i] = (i * 37) % cols;
  const Tensor big = ag::softmax(x).data();
  const Tensor big_log = ag::log_softmax(x, 1).data();
  double loss_sum = 0.0;
  for (int64_t i = 0; i < rows; i += 9) {
    const std::vector<float> all = x.data().to_vector();
    Variable row(Tensor::from_vector(Shape{1, cols}, {all.begin() + i * cols, all.begin() + (i + 1) * cols}));
    const std::vector<float> small = ag::softmax(row).data().to_vector();
    const std::vector<float> small_log = ag::log_softmax(row).data().to_vector();
    for (int64_t j = 0; j < cols; ++j) {
      EXPECT_EQ(big.data()[i * cols + j], small[j]);
      EXPECT_EQ(big_log.data()[i * cols + j], small_log[j]);
    }
  }
  for (int64_t i = 0; i < rows; ++i) loss_sum -= big_log.data()[i * cols + ids[i]];
  const float loss = ag::cross_entropy(x, IndexTensor(Shape{rows}, ids)).item();
  EXPECT_NEAR(loss, loss_sum / rows, 1e-5 * (1.0 + std::abs(loss)));
}

}  // namespace
