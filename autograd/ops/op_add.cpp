// add and sub with numpy broadcasting; backward sums the gradient back to each input's shape.
#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable add(const Variable& a, const Variable& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "add");
  Tensor out = kernels::map_broadcast(a.data(), b.data(), shape, [](float x, float y) { return x + y; });
  auto backward = [](std::vector<Variable>& in, const Tensor& g) {
    if (in[0].requires_grad()) in[0].add_grad(kernels::sum_to_shape(g, in[0].shape()));
    if (in[1].requires_grad()) in[1].add_grad(kernels::sum_to_shape(g, in[1].shape()));
  };
  return Variable(out, {a, b}, backward, "add");
}

Variable sub(const Variable& a, const Variable& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "sub");
  Tensor out = kernels::map_broadcast(a.data(), b.data(), shape, [](float x, float y) { return x - y; });
  auto backward = [](std::vector<Variable>& in, const Tensor& g) {
    if (in[0].requires_grad()) in[0].add_grad(kernels::sum_to_shape(g, in[0].shape()));
    if (in[1].requires_grad()) in[1].add_grad(kernels::scale(kernels::sum_to_shape(g, in[1].shape()), -1.0f));
  };
  return Variable(out, {a, b}, backward, "sub");
}

}  // namespace qforge::autograd
