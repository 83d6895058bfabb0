// Ops with a scalar operand: x + s, x * s, -x, x^p.
#include <cmath>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable add_scalar(const Variable& x, float s) {
  Tensor out = kernels::map_unary(x.data(), [s](float v) { return v + s; });
  auto backward = [](std::vector<Variable>& in, const Tensor& g) { in[0].add_grad(g); };
  return Variable(out, {x}, backward, "add_scalar");
}

Variable mul_scalar(const Variable& x, float s) {
  Tensor out = kernels::scale(x.data(), s);
  auto backward = [s](std::vector<Variable>& in, const Tensor& g) { in[0].add_grad(kernels::scale(g, s)); };
  return Variable(out, {x}, backward, "mul_scalar");
}

Variable neg(const Variable& x) {
  Tensor out = kernels::scale(x.data(), -1.0f);
  auto backward = [](std::vector<Variable>& in, const Tensor& g) { in[0].add_grad(kernels::scale(g, -1.0f)); };
  return Variable(out, {x}, backward, "neg");
}

Variable pow(const Variable& x, float exponent) {
  Tensor out = kernels::map_unary(x.data(), [exponent](float v) { return std::pow(v, exponent); });
  auto backward = [exponent](std::vector<Variable>& in, const Tensor& g) {
    // d/dx x^p = p x^(p-1); written out for p == 2 so squares stay exact and fast.
    in[0].add_grad(kernels::map_binary(g, in[0].data(), [exponent](float gv, float v) {
      return exponent == 2.0f ? 2.0f * v * gv : exponent * std::pow(v, exponent - 1.0f) * gv;
    }));
  };
  return Variable(out, {x}, backward, "pow");
}

}  // namespace qforge::autograd
