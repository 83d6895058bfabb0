// exp and log. d/dx e^x = e^x (the saved output); d/dx ln x = 1/x.
#include <cmath>

#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/fast_math.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable exp(const Variable& x) {
  Tensor out = kernels::map_unary(x.data(), [](float v) { return kernels::fast_exp(v); });
  auto backward = [out](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, out, [](float gv, float y) { return gv * y; }));
  };
  return Variable(out, {x}, backward, "exp");
}

Variable log(const Variable& x) {
  // std::log keeps libm's accuracy (and -inf at 0, NaN below 0, as PyTorch); log is not hot.
  Tensor out = kernels::map_unary(x.data(), [](float v) { return std::log(v); });
  auto backward = [](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, in[0].data(), [](float gv, float v) { return gv / v; }));
  };
  return Variable(out, {x}, backward, "log");
}

}  // namespace qforge::autograd
