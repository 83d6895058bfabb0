#include "autograd/kernels/reduce.h"

#include <algorithm>
#include <stdexcept>

#include "autograd/kernels/elementwise.h"

namespace qforge::autograd::kernels {

namespace {

// Fixed-size blocks make a full reduction's summation order independent of the thread count.
constexpr int64_t kSumBlock = 8192;

float sum_contiguous(const float* x, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

float sum_long_row(const float* x, int64_t n) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<float> partial(blocks);
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    partial[blk] = sum_contiguous(x + blk * kSumBlock, std::min(kSumBlock, n - blk * kSumBlock));
  }
  float s = 0.0f;
  for (float p : partial) s += p;
  return s;
}

// out[o, i] = sum_r x[o, r, i]
void sum_middle(const float* x, float* out, const AxisSplit& s) {
  if (s.inner == 1) {
    if (s.outer == 1) {
      out[0] = sum_long_row(x, s.reduced);
      return;
    }
#pragma omp parallel for schedule(static) if (s.outer * s.reduced > kParallelThreshold)
    for (int64_t o = 0; o < s.outer; ++o) out[o] = sum_contiguous(x + o * s.reduced, s.reduced);
    return;
  }
  constexpr int64_t kColumnBlock = 512;
  const int64_t column_blocks = (s.inner + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (s.outer * s.reduced * s.inner > kParallelThreshold)
  for (int64_t task = 0; task < s.outer * column_blocks; ++task) {
    const int64_t o = task / column_blocks, c0 = (task % column_blocks) * kColumnBlock;
    const int64_t width = std::min(kColumnBlock, s.inner - c0);
    float* dst = out + o * s.inner + c0;
    std::fill_n(dst, width, 0.0f);
    for (int64_t r = 0; r < s.reduced; ++r) {
      const float* src = x + (o * s.reduced + r) * s.inner + c0;
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) dst[c] += src[c];
    }
  }
}

}  // namespace

AxisSplit split_around(const Shape& shape, int first, int last) {
  AxisSplit s;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (i < first) s.outer *= shape[i];
    else if (i <= last) s.reduced *= shape[i];
    else s.inner *= shape[i];
  }
  return s;
}

Tensor sum_axes(const Tensor& x, const std::vector<bool>& reduce_axis) {
  Tensor current = x;
  // Reduce one contiguous run of flagged axes at a time, innermost run first.
  for (int last = x.ndim() - 1; last >= 0; --last) {
    if (!reduce_axis[last]) continue;
    int first = last;
    while (first > 0 && reduce_axis[first - 1]) --first;
    std::vector<int64_t> dims = current.shape().to_vector();
    const AxisSplit split = split_around(current.shape(), first, last);
    for (int i = first; i <= last; ++i) dims[i] = 1;
    Tensor reduced{Shape(dims)};
    sum_middle(current.data(), reduced.data(), split);
    current = reduced;
    last = first;
  }
  return current.data() == x.data() ? x.clone() : current;
}

Tensor sum_to_shape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  if (grad.numel() == shape.numel()) return grad.reshaped(shape.to_vector());  // only size-1 axes differ
  const Shape padded = shape.padded_to(grad.ndim());
  std::vector<bool> reduce(grad.ndim());
  for (int i = 0; i < grad.ndim(); ++i) reduce[i] = padded[i] == 1 && grad.shape()[i] != 1;
  return sum_axes(grad, reduce).reshaped(shape.to_vector());
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  return map_broadcast(x, Tensor::scalar(0.0f), shape, [](float a, float) { return a; });
}

}  // namespace qforge::autograd::kernels
