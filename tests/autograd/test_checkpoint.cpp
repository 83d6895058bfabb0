// autograd::checkpoint: same values and gradients as running fn directly (bit for bit), the
// gradient reaches parameters used inside fn even when x needs none, seeds drawn through
// checkpoint_replayable_seed repeat in the recompute (also nested), and no graph is kept in the
// forward.
#include <gtest/gtest.h>

#include <cstring>

#include "autograd/ops.h"

namespace qforge::autograd {
namespace {

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

// A stateful "layer": tanh(x W^T) with dropout whose seed counter advances per call, as
// layers::Dropout does.
struct Block {
  Variable w;
  uint64_t counter = 100;
  int calls = 0;
  Variable operator()(const Variable& x) {
    ++calls;
    const uint64_t seed = checkpoint_replayable_seed([this] { return counter++; });
    return dropout(tanh(matmul(x, w, false, true)), 0.3f, seed);
  }
};

TEST(Checkpoint, SameValuesGradientsAndSeedsAsWithout) {
  const Tensor w0 = Tensor::randn(Shape{6, 6}, 1, 0.5f), x0 = Tensor::randn(Shape{4, 6}, 2);
  Tensor grads[2][2], outputs[2];
  uint64_t counters[2];
  for (int use : {0, 1}) {
    Block a{Variable(w0.clone(), true)}, b{Variable(w0.clone(), true)};
    b.counter = 500;
    Variable x(x0.clone(), true);
    const auto fa = [&a](const Variable& v) { return a(v); };
    const auto fb = [&b](const Variable& v) { return b(v); };
    Variable h = use ? checkpoint(fa, x) : fa(x);
    Variable y = use ? checkpoint(fb, h) : fb(h);
    Variable loss = sum(mul(y, y));
    loss.backward();
    outputs[use] = y.data();
    grads[use][0] = a.w.grad();
    grads[use][1] = x.grad();
    counters[use] = a.counter;
    EXPECT_EQ(a.calls, use ? 2 : 1) << "checkpointing recomputes once in backward";
  }
  EXPECT_TRUE(bit_equal(outputs[0], outputs[1]));
  EXPECT_TRUE(bit_equal(grads[0][0], grads[1][0]));
  EXPECT_TRUE(bit_equal(grads[0][1], grads[1][1]));
  EXPECT_EQ(counters[0], counters[1]) << "the recompute must not advance the seed counter";
}

TEST(Checkpoint, ParametersInsideGetGradientsWhenInputNeedsNone) {
  Block block{Variable(Tensor::randn(Shape{5, 5}, 3), true)};
  Variable x(Tensor::randn(Shape{2, 5}, 4), false);
  Variable y = checkpoint([&](const Variable& v) { return block(v); }, x);
  EXPECT_TRUE(y.requires_grad());
  sum(y).backward();
  EXPECT_TRUE(block.w.has_grad());
  EXPECT_FALSE(x.has_grad());
}

TEST(Checkpoint, NestedCheckpointsReplayTheOuterSeeds) {
  const Tensor w0 = Tensor::randn(Shape{4, 4}, 5), x0 = Tensor::randn(Shape{3, 4}, 6);
  Tensor grad[2];
  for (int use : {0, 1}) {
    Block inner{Variable(w0.clone(), true)}, outer{Variable(w0.clone(), true)};
    const auto fi = [&inner](const Variable& v) { return inner(v); };
    const auto fo = [&](const Variable& v) { return outer(use ? checkpoint(fi, v) : fi(v)); };
    Variable x(x0.clone(), true);
    Variable y = use ? checkpoint(fo, x) : fo(x);
    sum(y).backward();
    grad[use] = x.grad();
    EXPECT_EQ(inner.counter, 101u);
  }
  EXPECT_TRUE(bit_equal(grad[0], grad[1]));
}

TEST(Checkpoint, NoGradModeJustRunsFn) {
  Block block{Variable(Tensor::randn(Shape{3, 3}, 7), true)};
  NoGradGuard no_grad;
  Variable y = checkpoint([&](const Variable& v) { return block(v); }, Variable(Tensor::randn(Shape{2, 3}, 8)));
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(block.calls, 1);
}

TEST(Checkpoint, RejectsAnEmptyFunction) {
  EXPECT_THROW(checkpoint({}, Variable(Tensor::randn(Shape{2}, 1))), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::autograd
