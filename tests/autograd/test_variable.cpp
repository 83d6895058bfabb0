// Graph semantics: accumulation, reuse of a variable, no-grad, detach, graph freeing, leaves.
#include <gtest/gtest.h>

#include "autograd/ops.h"

namespace qforge::autograd {
namespace {

Variable leaf(std::vector<float> values, bool requires_grad = true) {
  const int64_t n = static_cast<int64_t>(values.size());
  return Variable(Tensor::from_vector(Shape{n}, values), requires_grad);
}

TEST(Variable, GradientsAccumulateAcrossBackwardCalls) {
  Variable x = leaf({1.0f, 2.0f});
  sum(x * x).backward();
  sum(x * x).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{4.0f, 8.0f}));  // 2 * (2x)
  x.zero_grad();
  EXPECT_FALSE(x.has_grad());
}

TEST(Variable, ReusedInputGetsEveryPathsGradient) {
  Variable x = leaf({3.0f});
  Variable y = x * x + x;  // dy/dx = 2x + 1 = 7
  y.backward();
  EXPECT_FLOAT_EQ(x.grad().item(), 7.0f);
}

TEST(Variable, DiamondGraphVisitsSharedNodeOnce) {
  Variable x = leaf({2.0f});
  Variable shared = x * 3.0f;
  Variable y = shared * shared + shared;  // 9x^2 + 3x -> 36 + 3 = 39
  y.backward();
  EXPECT_FLOAT_EQ(x.grad().item(), 39.0f);
}

TEST(Variable, NoGradGuardRecordsNothing) {
  Variable x = leaf({1.0f, 2.0f});
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_mode_enabled());
    Variable y = x * 2.0f;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
  }
  EXPECT_TRUE(grad_mode_enabled());
  EXPECT_TRUE((x * 2.0f).requires_grad());
}

TEST(Variable, DetachCutsTheGraph) {
  Variable x = leaf({2.0f});
  Variable y = x.detach() * x;  // d/dx = detached value = 2
  y.backward();
  EXPECT_FLOAT_EQ(x.grad().item(), 2.0f);
  EXPECT_FALSE(x.detach().requires_grad());
}

TEST(Variable, ConstantsGetNoGradient) {
  Variable x = leaf({1.0f});
  Variable c = leaf({5.0f}, false);
  (x * c).backward();
  EXPECT_FLOAT_EQ(x.grad().item(), 5.0f);
  EXPECT_FALSE(c.has_grad());
  EXPECT_THROW(c.grad(), std::logic_error);
}

TEST(Variable, BackwardFreesTheGraphUnlessRetained) {
  Variable x = leaf({1.0f});
  Variable y = x * 2.0f;
  EXPECT_FALSE(y.is_leaf());
  y.backward(/*retain_graph=*/true);
  EXPECT_FALSE(y.is_leaf());
  y.backward();  // second pass through the retained graph
  EXPECT_FLOAT_EQ(x.grad().item(), 4.0f);
  EXPECT_TRUE(y.is_leaf());  // graph freed
}

TEST(Variable, IntermediateGradientsAreNotKept) {
  Variable x = leaf({1.0f});
  Variable h = x * 2.0f;
  Variable y = h * 3.0f;
  y.backward();
  EXPECT_FALSE(h.has_grad());
  EXPECT_FLOAT_EQ(x.grad().item(), 6.0f);
}

TEST(Variable, BackwardWithExplicitGradient) {
  Variable x = leaf({1.0f, 2.0f});
  Variable y = x * 3.0f;
  y.backward(Tensor::from_vector(Shape{2}, {1.0f, -1.0f}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3.0f, -3.0f}));
  Variable z = x * 3.0f;
  EXPECT_THROW(z.backward(Tensor::zeros(Shape{3})), std::invalid_argument);
}

TEST(Variable, BackwardOnConstantThrows) {
  Variable c = leaf({1.0f}, false);
  EXPECT_THROW(c.backward(), std::logic_error);
}

TEST(Variable, DeepChainDoesNotOverflowTheStack) {
  Variable x = leaf({1.0f});
  Variable y = x;
  for (int i = 0; i < 200000; ++i) y = y + 0.0f;
  y.backward();
  EXPECT_FLOAT_EQ(x.grad().item(), 1.0f);
}

TEST(Variable, SetRequiresGradOnNonLeafThrows) {
  Variable x = leaf({1.0f});
  Variable y = x * 2.0f;
  EXPECT_THROW(y.set_requires_grad(false), std::logic_error);
}

}  // namespace
}  // namespace qforge::autograd
