// sqrt and rsqrt. d/dx sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / y; d/dx x^(-1/2) = -0.5 x^(-3/2) = -0.5 y^3.
// Both backward formulas use only the saved output, so the input is not read again.
#include <cmath>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable sqrt(const Variable& x) {
  Tensor out = kernels::map_unary(x.data(), [](float v) { return std::sqrt(v); });
  auto backward = [out](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, out, [](float gv, float y) { return 0.5f * gv / y; }));
  };
  return Variable(out, {x}, backward, "sqrt");
}

Variable rsqrt(const Variable& x) {
  Tensor out = kernels::map_unary(x.data(), [](float v) { return 1.0f / std::sqrt(v); });
  auto backward = [out](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, out, [](float gv, float y) { return -0.5f * gv * y * y * y; }));
  };
  return Variable(out, {x}, backward, "rsqrt");
}

}  // namespace qforge::autograd
