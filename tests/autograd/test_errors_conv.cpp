// Error messages of conv2d, max_pool2d and avg_pool2d: each names the op and the offending shapes.
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

Variable ones(std::initializer_list<int64_t> dims) { return Variable(Tensor::full(Shape(dims), 1.0f), true); }

TEST(ConvErrors, NotFourDimensional) {
  EXPECT_THAT(error_of([] { conv2d(ones({3, 5, 5}), ones({2, 3, 3, 3}), Variable()); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("input must be 4-D"), HasSubstr("input [3, 5, 5]")));
  EXPECT_THAT(error_of([] { conv2d(ones({1, 3, 5, 5}), ones({2, 3, 3}), Variable()); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("weight must be 4-D"), HasSubstr("weight [2, 3, 3]")));
  EXPECT_THAT(error_of([] { max_pool2d(ones({4, 4}), 2); }),
              AllOf(HasSubstr("max_pool2d"), HasSubstr("4-D"), HasSubstr("[4, 4]")));
  EXPECT_THAT(error_of([] { avg_pool2d(ones({2, 4, 4}), 2); }),
              AllOf(HasSubstr("avg_pool2d"), HasSubstr("4-D"), HasSubstr("[2, 4, 4]")));
}

TEST(ConvErrors, ChannelMismatch) {
  EXPECT_THAT(error_of([] { conv2d(ones({2, 3, 5, 5}), ones({4, 2, 3, 3}), ones({4})); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("input channels 3 != weight in-channels 2"),
                    HasSubstr("input [2, 3, 5, 5]"), HasSubstr("weight [4, 2, 3, 3]")));
}

TEST(ConvErrors, BiasSize) {
  EXPECT_THAT(error_of([] { conv2d(ones({2, 3, 5, 5}), ones({4, 3, 3, 3}), ones({3})); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("bias shape [3] != [4]"), HasSubstr("weight [4, 3, 3, 3]")));
  EXPECT_THAT(error_of([] { conv2d(ones({2, 3, 5, 5}), ones({4, 3, 3, 3}), ones({1, 4})); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("bias shape [1, 4] != [4]")));
}

TEST(ConvErrors, KernelLargerThanPaddedInput) {
  EXPECT_THAT(error_of([] { conv2d(ones({1, 1, 4, 4}), ones({1, 1, 5, 5}), Variable()); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("kernel 5x5 larger than padded input 4x4"),
                    HasSubstr("input [1, 1, 4, 4]")));
  EXPECT_THAT(error_of([] { conv2d(ones({1, 1, 4, 6}), ones({1, 1, 7, 3}), Variable(), 1, 1); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("kernel 7x3 larger than padded input 6x8"), HasSubstr("padding 1")));
  // The same kernel fits once padded.
  EXPECT_EQ(conv2d(ones({1, 1, 4, 4}), ones({1, 1, 5, 5}), Variable(), 1, 1).shape(), Shape({1, 1, 2, 2}));
}

TEST(ConvErrors, StrideAndPadding) {
  EXPECT_THAT(error_of([] { conv2d(ones({1, 1, 4, 4}), ones({1, 1, 3, 3}), Variable(), 0); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("stride 0")));
  EXPECT_THAT(error_of([] { conv2d(ones({1, 1, 4, 4}), ones({1, 1, 3, 3}), Variable(), 1, -1); }),
              AllOf(HasSubstr("conv2d"), HasSubstr("padding -1")));
  EXPECT_THAT(error_of([] { max_pool2d(ones({1, 1, 4, 4}), 0); }),
              AllOf(HasSubstr("max_pool2d"), HasSubstr("kernel 0")));
  EXPECT_THAT(error_of([] { avg_pool2d(ones({1, 1, 4, 4}), 2, -1); }),
              AllOf(HasSubstr("avg_pool2d"), HasSubstr("stride -1")));
}

TEST(ConvErrors, PoolKernelLargerThanInput) {
  EXPECT_THAT(error_of([] { max_pool2d(ones({2, 3, 4, 2}), 3); }),
              AllOf(HasSubstr("max_pool2d"), HasSubstr("kernel 3x3 larger than input 4x2"), HasSubstr("[2, 3, 4, 2]")));
  EXPECT_THAT(error_of([] { avg_pool2d(ones({1, 1, 2, 5}), 3, 1); }),
              AllOf(HasSubstr("avg_pool2d"), HasSubstr("kernel 3x3 larger than input 2x5")));
}

}  // namespace
}  // namespace qforge::autograd
