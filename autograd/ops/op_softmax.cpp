// softmax and log_softmax over any axis, max-shifted for stability:
//   softmax:      y = exp(x - m) / s,      s = sum exp(x - m), m = max x
//   log_softmax:  y = x - m - log s
// Backward (both from the saved output y):
//   softmax:      dx = y (g - sum(g y))
//   log_softmax:  dx = g - exp(y) sum(g)
// The last axis uses a row kernel (rows in parallel; a row stays in L1 between its passes).
// Other axes view x as [outer, axis, inner] and process blocks of contiguous inner columns, so
// the inner loops stay unit-stride.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/fast_math.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

constexpr int64_t kInnerBlock = 256;  // columns per task of the strided kernels

template <bool kLog>
void forward_row(const float* x, float* y, int64_t cols) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < cols; ++j) m = std::max(m, x[j]);
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < cols; ++j) {
    const float e = kernels::fast_exp(x[j] - m);
    if constexpr (!kLog) y[j] = e;
    s += e;
  }
  if constexpr (kLog) {
    const float shift = m + std::log(s);
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) y[j] = x[j] - shift;
  } else {
    const float inv = 1.0f / s;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) y[j] *= inv;
  }
}

template <bool kLog>
void backward_row(const float* g, const float* y, float* dx, int64_t cols) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < cols; ++j) s += kLog ? g[j] : g[j] * y[j];
#pragma omp simd
  for (int64_t j = 0; j < cols; ++j) dx[j] = kLog ? g[j] - kernels::fast_exp(y[j]) * s : y[j] * (g[j] - s);
}

// One [axis, width] block of an [outer, axis, inner] tensor: columns are `inner` apart.
template <bool kLog>
void forward_block(const float* x, float* y, int64_t axis, int64_t inner, int64_t width) {
  float m[kInnerBlock], s[kInnerBlock];
  std::fill(m, m + width, -std::numeric_limits<float>::infinity());
  std::fill(s, s + width, 0.0f);
  for (int64_t a = 0; a < axis; ++a) {
    const float* xa = x + a * inner;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) m[j] = std::max(m[j], xa[j]);
  }
  for (int64_t a = 0; a < axis; ++a) {
    const float* xa = x + a * inner;
    float* ya = y + a * inner;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) {
      const float e = kernels::fast_exp(xa[j] - m[j]);
      if constexpr (!kLog) ya[j] = e;
      s[j] += e;
    }
  }
  for (int64_t j = 0; j < width; ++j) s[j] = kLog ? m[j] + std::log(s[j]) : 1.0f / s[j];
  for (int64_t a = 0; a < axis; ++a) {
    const float* xa = x + a * inner;
    float* ya = y + a * inner;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) ya[j] = kLog ? xa[j] - s[j] : ya[j] * s[j];
  }
}

template <bool kLog>
void backward_block(const float* g, const float* y, float* dx, int64_t axis, int64_t inner, int64_t width) {
  float s[kInnerBlock];
  std::fill(s, s + width, 0.0f);
  for (int64_t a = 0; a < axis; ++a) {
    const float* ga = g + a * inner;
    const float* ya = y + a * inner;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) s[j] += kLog ? ga[j] : ga[j] * ya[j];
  }
  for (int64_t a = 0; a < axis; ++a) {
    const float* ga = g + a * inner;
    const float* ya = y + a * inner;
    float* da = dx + a * inner;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) da[j] = kLog ? ga[j] - kernels::fast_exp(ya[j]) * s[j] : ya[j] * (ga[j] - s[j]);
  }
}

// Runs `row(in_offset)` over every row (inner == 1) or `block(offset, width)` over every block of
// inner columns, in parallel when the tensor is large.
template <class Row, class Block>
void for_each_slice(const kernels::AxisSplit& sp, Row row, Block block) {
  const int64_t total = sp.outer * sp.reduced * sp.inner;
  if (sp.inner == 1) {
#pragma omp parallel for schedule(static) if (total > kernels::kParallelThreshold && sp.outer > 1)
    for (int64_t r = 0; r < sp.outer; ++r) row(r * sp.reduced);
    return;
  }
  const int64_t blocks = (sp.inner + kInnerBlock - 1) / kInnerBlock;
#pragma omp parallel for schedule(static) if (total > kernels::kParallelThreshold && sp.outer * blocks > 1)
  for (int64_t task = 0; task < sp.outer * blocks; ++task) {
    const int64_t o = task / blocks, j0 = (task % blocks) * kInnerBlock;
    block(o * sp.reduced * sp.inner + j0, std::min(kInnerBlock, sp.inner - j0));
  }
}

template <bool kLog>
Variable softmax_impl(const Variable& x, int axis, const char* name) {
  const int a = x.shape().normalize_axis(axis, name);
  const kernels::AxisSplit sp = kernels::split_around(x.shape(), a, a);
  Tensor out(x.shape());
  const float* px = x.data().data();
  float* py = out.data();
  for_each_slice(
      sp, [&](int64_t off) { forward_row<kLog>(px + off, py + off, sp.reduced); },
      [&](int64_t off, int64_t width) { forward_block<kLog>(px + off, py + off, sp.reduced, sp.inner, width); });
  auto backward = [out, sp](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx(out.shape());
    const float* pg = g.data();
    const float* py = out.data();
    float* pd = dx.data();
    for_each_slice(
        sp, [&](int64_t off) { backward_row<kLog>(pg + off, py + off, pd + off, sp.reduced); },
        [&](int64_t off, int64_t width) {
          backward_block<kLog>(pg + off, py + off, pd + off, sp.reduced, sp.inner, width);
        });
    in[0].add_grad(dx);
  };
  return Variable(out, {x}, backward, name);
}

}  // namespace

Variable softmax(const Variable& x, int axis) { return softmax_impl<false>(x, axis, "softmax"); }

Variable log_softmax(const Variable& x, int axis) { return softmax_impl<true>(x, axis, "log_softmax"); }

}  // namespace qforge::autograd
