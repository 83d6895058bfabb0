// GELU (Hendrycks & Gimpel 2016), both of PyTorch's forms (torch.nn.functional.gelu):
//   erf:  y = 0.5 x (1 + erf(x / sqrt2)),           y' = 0.5 (1 + erf(x / sqrt2)) + x phi(x),
//         phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
//   tanh: y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
//         y' = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u)
// Backward recomputes from the input (memory bound; storing erf/tanh would cost a tensor).
#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/fast_math.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

constexpr float kSqrtHalf = 0.70710678118654752f;      // 1 / sqrt(2)
constexpr float kInvSqrt2Pi = 0.39894228040143268f;    // 1 / sqrt(2 pi)
constexpr float kSqrt2OverPi = 0.79788456080286536f;   // sqrt(2 / pi)
constexpr float kCubic = 0.044715f;

Tensor gelu_erf_forward(const Tensor& x) {
  return kernels::map_unary(x, [](float v) { return 0.5f * v * (1.0f + kernels::fast_erf(v * kSqrtHalf)); });
}

Tensor gelu_erf_backward(const Tensor& g, const Tensor& x) {
  return kernels::map_binary(g, x, [](float gv, float v) {
    const float cdf = 0.5f * (1.0f + kernels::fast_erf(v * kSqrtHalf));
    const float pdf = kInvSqrt2Pi * kernels::fast_exp(-0.5f * v * v);
    return gv * (cdf + v * pdf);
  });
}

Tensor gelu_tanh_forward(const Tensor& x) {
  return kernels::map_unary(x, [](float v) {
    return 0.5f * v * (1.0f + kernels::fast_tanh(kSqrt2OverPi * (v + kCubic * v * v * v)));
  });
}

Tensor gelu_tanh_backward(const Tensor& g, const Tensor& x) {
  return kernels::map_binary(g, x, [](float gv, float v) {
    const float t = kernels::fast_tanh(kSqrt2OverPi * (v + kCubic * v * v * v));
    const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * v * v);
    return gv * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
  });
}

}  // namespace

Variable gelu(const Variable& x, GeluApproximation approximation) {
  const bool use_tanh = approximation == GeluApproximation::kTanh;
  Tensor out = use_tanh ? gelu_tanh_forward(x.data()) : gelu_erf_forward(x.data());
  auto backward = [use_tanh](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(use_tanh ? gelu_tanh_backward(g, in[0].data()) : gelu_erf_backward(g, in[0].data()));
  };
  return Variable(out, {x}, backward, "gelu");
}

}  // namespace qforge::autograd
