#pragma once
// Elementwise kernels shared by the op files: maps, broadcasting binary maps and the reduction
// that undoes broadcasting in backward. Internal header: include it from .cpp files only.
#include <algorithm>
#include <array>
#include <cstdint>

#include "autograd/tensor.h"

namespace qforge::autograd::kernels {

// Below this many elements, OpenMP start-up costs more than it saves.
inline constexpr int64_t kParallelThreshold = 1 << 15;

template <class F>
Tensor map_unary(const Tensor& x, F f) {
  Tensor out(x.shape());
  const float* in = x.data();
  float* o = out.data();
  const int64_t n = x.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
  return out;
}

// f(a[i], b[i]) for two tensors of equal element count; the result takes a's shape.
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, F f) {
  Tensor out(a.shape());
  const float* pa = a.data();
  const float* pb = b.data();
  float* o = out.data();
  const int64_t n = a.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
  return out;
}

// Broadcast geometry of a binary op after merging adjacent dimensions that broadcast alike:
// out[i0..i3] = f(a[sum i*stride_a], b[sum i*stride_b]).
struct BroadcastPlan {
  std::array<int64_t, 4> dims{1, 1, 1, 1};
  std::array<int64_t, 4> stride_a{0, 0, 0, 0};
  std::array<int64_t, 4> stride_b{0, 0, 0, 0};
};
BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out);

template <class F, int kStrideA, int kStrideB>
inline void broadcast_row(const float* a, const float* b, float* o, int64_t n, F f) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * kStrideA], b[i * kStrideB]);
}

// numpy-broadcasting binary map; `out_shape` must be broadcast_shapes(a, b).
template <class F>
Tensor map_broadcast(const Tensor& a, const Tensor& b, const Shape& out_shape, F f) {
  if (a.shape() == out_shape && b.shape() == out_shape) return map_binary(a, b, f);
  Tensor out(out_shape);
  const BroadcastPlan p = plan_broadcast(a.shape(), b.shape(), out_shape);
  const int64_t rows = p.dims[0] * p.dims[1] * p.dims[2], cols = p.dims[3];
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
#pragma omp parallel for schedule(static) if (out.numel() > kParallelThreshold && rows > 1)
  for (int64_t row = 0; row < rows; ++row) {
    const int64_t i2 = row % p.dims[2], i1 = (row / p.dims[2]) % p.dims[1], i0 = row / (p.dims[2] * p.dims[1]);
    const float* ra = pa + i0 * p.stride_a[0] + i1 * p.stride_a[1] + i2 * p.stride_a[2];
    const float* rb = pb + i0 * p.stride_b[0] + i1 * p.stride_b[1] + i2 * p.stride_b[2];
    float* ro = po + row * cols;
    if (p.stride_a[3] && p.stride_b[3]) broadcast_row<F, 1, 1>(ra, rb, ro, cols, f);
    else if (p.stride_a[3]) broadcast_row<F, 1, 0>(ra, rb, ro, cols, f);
    else if (p.stride_b[3]) broadcast_row<F, 0, 1>(ra, rb, ro, cols, f);
    else broadcast_row<F, 0, 0>(ra, rb, ro, cols, f);
  }
  return out;
}

// a + b for equal shapes (gradient accumulation).
Tensor add(const Tensor& a, const Tensor& b);
// x * s.
Tensor scale(const Tensor& x, float s);

}  // namespace qforge::autograd::kernels
