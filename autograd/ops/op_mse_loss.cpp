// mse_loss(prediction, target) = mean((prediction - target)^2) (torch.nn.functional.mse_loss,
// reduction='mean'). Shapes must match exactly: PyTorch would broadcast with a warning, which
// usually hides a bug. d prediction = 2 (p - t) g / n, d target = -d prediction.
// An empty input gives 0/0 = NaN, as in PyTorch.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

constexpr int64_t kChunk = 1 << 14;  // fixed chunks keep the sum independent of the thread count

double sum_squared_difference(const float* p, const float* t, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks, 0.0);
#pragma omp parallel for schedule(static) if (n > kernels::kParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk, end = std::min(n, begin + kChunk);
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = begin; i < end; ++i) s += (p[i] - t[i]) * (p[i] - t[i]);
    partial[c] = s;
  }
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace

Variable mse_loss(const Variable& prediction, const Variable& target) {
  if (prediction.shape() != target.shape()) {
    throw std::invalid_argument("mse_loss: prediction shape " + prediction.shape().to_string() +
                                " != target shape " + target.shape().to_string());
  }
  const int64_t n = prediction.numel();
  const double total = sum_squared_difference(prediction.data().data(), target.data().data(), n);
  Tensor out = Tensor::scalar(static_cast<float>(total / static_cast<double>(n)));
  auto backward = [n](std::vector<Variable>& in, const Tensor& g) {
    const float scale = 2.0f * g.data()[0] / static_cast<float>(n);
    Tensor d = kernels::map_binary(in[0].data(), in[1].data(), [scale](float p, float t) { return (p - t) * scale; });
    if (in[0].requires_grad()) in[0].add_grad(d);
    if (in[1].requires_grad()) in[1].add_grad(kernels::scale(d, -1.0f));
  };
  return Variable(out, {prediction, target}, backward, "mse_loss");
}

}  // namespace qforge::autograd
