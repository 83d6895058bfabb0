// mul with numpy broadcasting: d(a*b)/da = b, d(a*b)/db = a, each summed back to its input's shape.
#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable mul(const Variable& a, const Variable& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "mul");
  Tensor out = kernels::map_broadcast(a.data(), b.data(), shape, [](float x, float y) { return x * y; });
  auto backward = [shape](std::vector<Variable>& in, const Tensor& g) {
    auto times = [](float x, float y) { return x * y; };
    if (in[0].requires_grad()) {
      in[0].add_grad(kernels::sum_to_shape(kernels::map_broadcast(g, in[1].data(), shape, times), in[0].shape()));
    }
    if (in[1].requires_grad()) {
      in[1].add_grad(kernels::sum_to_shape(kernels::map_broadcast(g, in[0].data(), shape, times), in[1].shape()));
    }
  };
  return Variable(out, {a, b}, backward, "mul");
}

}  // namespace qforge::autograd
