// The sigmoid family: sigmoid, tanh and silu (x * sigmoid(x); Elfwing et al. 2018, Hendrycks &
// Gimpel 2016). Forward uses the vectorisable exp of kernels/fast_math.h.
//   sigmoid' = y (1 - y)          (saved output)
//   tanh'    = 1 - y^2            (saved output)
//   silu'    = s (1 + x (1 - s)), s = sigmoid(x), recomputed from the input: cheaper than
//              storing s, since these kernels are memory bound.
#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/fast_math.h"
#include "autograd/ops.h"

namespace qforge::autograd {

Variable sigmoid(const Variable& x) {
  Tensor out = kernels::map_unary(x.data(), [](float v) { return kernels::fast_sigmoid(v); });
  auto backward = [out](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, out, [](float gv, float y) { return gv * y * (1.0f - y); }));
  };
  return Variable(out, {x}, backward, "sigmoid");
}

Variable tanh(const Variable& x) {
  Tensor out = kernels::map_unary(x.data(), [](float v) { return kernels::fast_tanh(v); });
  auto backward = [out](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, out, [](float gv, float y) { return gv * (1.0f - y * y); }));
  };
  return Variable(out, {x}, backward, "tanh");
}

Variable silu(const Variable& x) {
  Tensor out = kernels::map_unary(x.data(), [](float v) { return v * kernels::fast_sigmoid(v); });
  auto backward = [](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(kernels::map_binary(g, in[0].data(), [](float gv, float v) {
      const float s = kernels::fast_sigmoid(v);
      return gv * s * (1.0f + v * (1.0f - s));
    }));
  };
  return Variable(out, {x}, backward, "silu");
}

}  // namespace qforge::autograd
