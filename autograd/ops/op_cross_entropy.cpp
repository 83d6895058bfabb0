// cross_entropy(logits [n, classes], targets [n], ignore_index): the mean over the rows whose target
// is not ignore_index of -log_softmax(logits)[row, target] (torch.nn.functional.cross_entropy with
// reduction='mean' and no class weights).
// One fused kernel: per row a max pass, then an exp-sum pass, giving lse = m + log(sum exp(x - m))
// and loss_row = lse - x[target]. Only the per-row lse is saved, so backward is a single pass:
//   d logits[i, j] = (exp(x[i, j] - lse[i]) - [j == target_i]) * g / count,  0 for ignored rows.
// When every row is ignored, count is 0 and the loss is 0/0 = NaN, as in PyTorch; the gradient is
// then all zeros (again as PyTorch, whose ignored rows contribute nothing).
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/fast_math.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

// Throws unless logits is [n, classes], targets is [n] and each target is a class or ignore_index.
// Returns the number of rows that count.
int64_t check_targets(const Shape& logits, const IndexTensor& targets, int64_t ignore_index) {
  if (logits.ndim() != 2) {
    throw std::invalid_argument("cross_entropy: logits must be [n, classes], got " + logits.to_string());
  }
  if (targets.shape().ndim() != 1 || targets.shape()[0] != logits[0]) {
    throw std::invalid_argument("cross_entropy: targets shape " + targets.shape().to_string() + " != [" +
                                std::to_string(logits[0]) + "] for logits " + logits.to_string());
  }
  int64_t count = 0;
  for (int64_t i = 0; i < logits[0]; ++i) {
    const int64_t t = targets.data()[i];
    if (t == ignore_index) continue;
    if (t < 0 || t >= logits[1]) {
      throw std::invalid_argument("cross_entropy: target " + std::to_string(t) + " at row " + std::to_string(i) +
                                  " out of range for " + std::to_string(logits[1]) + " classes");
    }
    ++count;
  }
  return count;
}

// Log-sum-exp of one row, max-shifted.
float row_lse(const float* x, int64_t cols) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < cols; ++j) m = std::max(m, x[j]);
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < cols; ++j) s += kernels::fast_exp(x[j] - m);
  return m + std::log(s);
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& lse, const IndexTensor& targets,
                              int64_t ignore_index, float scale) {
  const int64_t rows = logits.dim(0), cols = logits.dim(1);
  Tensor dx(logits.shape());
  const float* px = logits.data();
  const float* pl = lse.data();
  const int64_t* pt = targets.data();
  float* pd = dx.data();
#pragma omp parallel for schedule(static) if (logits.numel() > kernels::kParallelThreshold)
  for (int64_t i = 0; i < rows; ++i) {
    const float* x = px + i * cols;
    float* d = pd + i * cols;
    if (pt[i] == ignore_index) {
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) d[j] = 0.0f;
      continue;
    }
    const float shift = pl[i];
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) d[j] = kernels::fast_exp(x[j] - shift) * scale;
    d[pt[i]] -= scale;
  }
  return dx;
}

}  // namespace

Variable cross_entropy(const Variable& logits, const IndexTensor& targets, int64_t ignore_index) {
  const int64_t count = check_targets(logits.shape(), targets, ignore_index);
  const int64_t rows = logits.dim(0), cols = logits.dim(1);
  Tensor lse(Shape{rows});
  std::vector<float> row_loss(rows, 0.0f);
  const float* px = logits.data().data();
  const int64_t* pt = targets.data();
  float* pl = lse.data();
#pragma omp parallel for schedule(static) if (logits.numel() > kernels::kParallelThreshold)
  for (int64_t i = 0; i < rows; ++i) {
    if (pt[i] == ignore_index) continue;  // never read by backward either
    pl[i] = row_lse(px + i * cols, cols);
    row_loss[i] = pl[i] - px[i * cols + pt[i]];
  }
  // Sequential double sum: the loss does not depend on the thread count.
  double total = 0.0;
  for (float v : row_loss) total += v;
  Tensor out = Tensor::scalar(static_cast<float>(total / static_cast<double>(count)));
  auto backward = [lse, targets, ignore_index, count](std::vector<Variable>& in, const Tensor& g) {
    const float scale = g.data()[0] / static_cast<float>(count);
    in[0].add_grad(cross_entropy_backward(in[0].data(), lse, targets, ignore_index, scale));
  };
  return Variable(out, {logits}, backward, "cross_entropy");
}

}  // namespace qforge::autograd
