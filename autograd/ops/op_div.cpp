// div with numpy broadcasting: d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable div(const Variable& a, const Variable& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "div");
  Tensor out = kernels::map_broadcast(a.data(), b.data(), shape, [](float x, float y) { return x / y; });
  auto backward = [shape, out](std::vector<Variable>& in, const Tensor& g) {
    if (in[0].requires_grad()) {
      Tensor ga = kernels::map_broadcast(g, in[1].data(), shape, [](float gv, float y) { return gv / y; });
      in[0].add_grad(kernels::sum_to_shape(ga, in[0].shape()));
    }
    if (in[1].requires_grad()) {
      // -a/b^2 = -(a/b)/b: reuse the forward result.
      Tensor g_out = kernels::map_binary(g, out, [](float gv, float q) { return -gv * q; });
      Tensor gb = kernels::map_broadcast(g_out, in[1].data(), shape, [](float t, float y) { return t / y; });
      in[1].add_grad(kernels::sum_to_shape(gb, in[1].shape()));
    }
  };
  return Variable(out, {a, b}, backward, "div");
}

}  // namespace qforge::autograd
