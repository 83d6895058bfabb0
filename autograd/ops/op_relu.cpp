// relu(x) = max(x, 0). Gradient g where the output is positive, else 0 (PyTorch's choice of
// 0 at x == 0). NaN inputs propagate as in PyTorch.
#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable relu(const Variable& x) {
  Tensor out = kernels::map_unary(x.data(), [](float v) { return v < 0.0f ? 0.0f : v; });
  auto backward = [out](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, out, [](float gv, float y) { return y <= 0.0f ? 0.0f : gv; }));
  };
  return Variable(out, {x}, backward, "relu");
}

}  // namespace qforge::autograd
