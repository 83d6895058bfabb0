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

// The leaf-ready callback (data-parallel gradient buckets): once per leaf, when its gradient is final.
TEST(Variable, LeafReadyCallbackComesOnceWithTheFinalGradient) {
  Variable a = leaf({2.0f}), b = leaf({5.0f}), c = leaf({1.0f}, false);
  Variable late = a * 3.0f;                // a: used early in the forward and again at the end
  Variable y = (late * b + c) * a + b;     // y = 3a^2 b + c a + b: dy/da = 6ab + c = 61, dy/db = 3a^2 + 1 = 13
  std::vector<std::pair<float, float>> seen;  // (value, gradient at the call)
  y.backward([&](const Variable& ready) { seen.emplace_back(ready.data().item(), ready.grad().item()); });
  ASSERT_EQ(seen.size(), 2u);  // c does not require grad: never announced
  for (const auto& [value, gradient] : seen) EXPECT_FLOAT_EQ(gradient, value == 2.0f ? 61.0f : 13.0f);
  EXPECT_FLOAT_EQ(a.grad().item(), 61.0f);
  EXPECT_FLOAT_EQ(b.grad().item(), 13.0f);
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
