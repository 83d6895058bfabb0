// Conv2d, MaxPool2d, Flatten and Sequential: names, shapes, PyTorch's init bound, and forward equal
// to the autograd ops they wrap (whose gradients the op-case table checks).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "layers/activations.h"
#include "layers/conv2d.h"
#include "layers/linear.h"

namespace qforge::layers {
namespace {

TEST(Conv2d, NamesShapesAndInitBound) {
  Conv2d conv(3, 8, 3, 1, 1, true, 7);
  const auto named = conv.named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_EQ(named[0].second.shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(named[1].first, "bias");
  const float bound = 1.0f / std::sqrt(27.0f);
  float largest = 0.0f;
  for (float w : conv.weight().data().to_vector()) largest = std::max(largest, std::abs(w));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.8f * bound);
  EXPECT_THROW(Conv2d(0, 8, 3), std::invalid_argument);
}

TEST(Conv2d, ForwardIsTheConvolutionOp) {
  Conv2d conv(2, 4, 3, 2, 1, true, 3);
  const Variable x(Tensor::randn({2, 2, 9, 7}, 11));
  const Tensor expected = autograd::conv2d(x, conv.weight(), conv.bias(), 2, 1).data();
  const Tensor got = conv.forward(x).data();
  ASSERT_EQ(got.shape(), (Shape{2, 4, 5, 4}));
  EXPECT_EQ(got.to_vector(), expected.to_vector());
}

TEST(Sequential, NamesChildrenByIndexAndChains) {
  Sequential net;
  net.push_back(std::make_shared<Conv2d>(1, 4, 3, 1, 1, true, 1));
  net.push_back(make_activation(Activation::kReLU));
  net.push_back(std::make_shared<MaxPool2d>(2));
  net.push_back(std::make_shared<Flatten>());
  net.push_back(std::make_shared<Linear>(4 * 4 * 4, 10, true, 2));
  const auto named = net.named_parameters();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "0.weight");
  EXPECT_EQ(named[3].first, "4.bias");
  Variable x(Tensor::randn({3, 1, 8, 8}, 5), true);
  Variable y = net.forward(x);
  EXPECT_EQ(y.shape(), (Shape{3, 10}));
  autograd::sum(y).backward();
  EXPECT_TRUE(x.has_grad());
  EXPECT_TRUE(named[0].second.has_grad());
}

}  // namespace
}  // namespace qforge::layers
