// The fused nn ops reduce parameter gradients (norm weights, shared GQA key/value heads) in a
// fixed order, so their results are bitwise identical for any OpenMP thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <vector>

#include "autograd/ops.h"

namespace qforge::autograd {
namespace {

// Gradients of every input of `op` under `threads` threads (inputs large enough to run parallel).
template <class Op>
std::vector<std::vector<float>> grads_with_threads(int threads, const std::vector<Shape>& shapes, Op op) {
  const int previous = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<Variable> inputs;
  for (size_t i = 0; i < shapes.size(); ++i) inputs.emplace_back(Tensor::randn(shapes[i], 10 + i), true);
  Variable out = op(inputs);
  out.backward(Tensor::randn(out.shape(), 99));
  std::vector<std::vector<float>> grads;
  grads.push_back(out.data().to_vector());
  for (const Variable& x : inputs) grads.push_back(x.grad().to_vector());
  omp_set_num_threads(previous);
  return grads;
}

template <class Op>
void expect_thread_independent(const std::vector<Shape>& shapes, Op op) {
  const auto one = grads_with_threads(1, shapes, op), two = grads_with_threads(2, shapes, op);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(one[0], two[0]) << "output";
  for (size_t i = 1; i < one.size(); ++i) EXPECT_EQ(one[i], two[i]) << "gradient of input " << (i - 1);
}

TEST(NnDeterminism, RmsNorm) {
  expect_thread_independent({{1000, 96}, {96}}, [](auto& x) { return rms_norm(x[0], x[1]); });
}

TEST(NnDeterminism, LayerNorm) {
  expect_thread_independent({{1000, 96}, {96}, {96}}, [](auto& x) { return layer_norm(x[0], x[1], x[2]); });
}

TEST(NnDeterminism, GroupedQueryAttention) {
  expect_thread_independent({{2, 8, 100, 16}, {2, 2, 100, 16}, {2, 2, 100, 16}},
                            [](auto& x) { return causal_attention(x[0], x[1], x[2]); });
}

}  // namespace
}  // namespace qforge::autograd
