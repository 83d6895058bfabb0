// 2-D max and average pooling over square windows without padding (torch.nn.functional.max_pool2d
// and avg_pool2d with padding 0, ceil_mode false): out = floor((size - kernel) / stride) + 1.
// max_pool2d saves the argmax of every window (its offset inside the image plane) and sends the
// gradient there; like PyTorch it keeps the first maximum of a window and lets a NaN win
// (its `val > max || isnan(val)` test in aten/src/ATen/native/cpu/MaxPoolKernel.cpp).
// avg_pool2d divides by kernel^2 (no padding, so every window is full) and spreads g / kernel^2
// over the window. Planes (n, c) are independent and run in parallel; overlapping windows
// (stride < kernel) only ever add within one plane, so threads never write the same element.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

struct PoolGeometry {
  int64_t planes, h, w, kernel, stride, oh, ow;
  int64_t in_plane() const { return h * w; }
  int64_t out_plane() const { return oh * ow; }
};

PoolGeometry pool_geometry(const Shape& xs, int64_t kernel, int64_t stride, const char* op) {
  const std::string name(op);
  if (xs.ndim() != 4) throw std::invalid_argument(name + ": input must be 4-D [n, c, h, w], got " + xs.to_string());
  if (stride == 0) stride = kernel;
  if (kernel < 1 || stride < 1) {
    throw std::invalid_argument(name + ": kernel " + std::to_string(kernel) + " and stride " +
                                std::to_string(stride) + " must be >= 1 (input " + xs.to_string() + ")");
  }
  if (kernel > xs[2] || kernel > xs[3]) {
    throw std::invalid_argument(name + ": kernel " + std::to_string(kernel) + "x" + std::to_string(kernel) +
                                " larger than input " + std::to_string(xs[2]) + "x" + std::to_string(xs[3]) + " " +
                                xs.to_string());
  }
  if (xs[2] * xs[3] > INT32_MAX) {  // window offsets are int32 (half the index traffic of the gathers)
    throw std::invalid_argument(name + ": plane " + std::to_string(xs[2]) + "x" + std::to_string(xs[3]) +
                                " too large for 32-bit offsets " + xs.to_string());
  }
  return {xs[0] * xs[1], xs[2], xs[3], kernel, stride, (xs[2] - kernel) / stride + 1, (xs[3] - kernel) / stride + 1};
}

bool parallel_planes(const PoolGeometry& g) {
  return g.planes > 1 && g.planes * g.in_plane() > kernels::kParallelThreshold;
}

// Offset in the input plane of each window's top-left element, for the whole output plane.
// Output rows are short (7 or 14 for 28x28 images), so the kernels below run over the flattened
// plane instead: one long loop per window offset, which the compiler vectorises with gathers.
std::vector<int32_t> window_origins(const PoolGeometry& g) {
  std::vector<int32_t> origins(static_cast<size_t>(g.out_plane()));
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    for (int64_t ox = 0; ox < g.ow; ++ox) origins[oy * g.ow + ox] = static_cast<int32_t>((oy * g.w + ox) * g.stride);
  }
  return origins;
}

// One plane: the window maximum and its offset in the plane. Window offsets run in row-major
// order, so with a strict comparison ties keep the first maximum; a NaN always takes over.
void max_plane(const float* x, const PoolGeometry& g, const int32_t* origin, float* y, int32_t* arg) {
  const int64_t n = g.out_plane();
#pragma omp simd
  for (int64_t q = 0; q < n; ++q) {
    y[q] = x[origin[q]];
    arg[q] = origin[q];
  }
  for (int64_t i = 0; i < g.kernel; ++i) {
    for (int64_t j = i == 0 ? 1 : 0; j < g.kernel; ++j) {
      const int32_t d = static_cast<int32_t>(i * g.w + j);
#pragma omp simd
      for (int64_t q = 0; q < n; ++q) {
        const float v = x[origin[q] + d];
        const bool take = v > y[q] || v != v;
        y[q] = take ? v : y[q];
        arg[q] = take ? origin[q] + d : arg[q];
      }
    }
  }
}

// One plane's window sums divided by kernel^2.
void avg_plane(const float* x, const PoolGeometry& g, const int32_t* origin, float* y) {
  const int64_t n = g.out_plane();
  std::fill(y, y + n, 0.0f);
  for (int64_t i = 0; i < g.kernel; ++i) {
    for (int64_t j = 0; j < g.kernel; ++j) {
      const int32_t d = static_cast<int32_t>(i * g.w + j);
#pragma omp simd
      for (int64_t q = 0; q < n; ++q) y[q] += x[origin[q] + d];
    }
  }
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
#pragma omp simd
  for (int64_t q = 0; q < n; ++q) y[q] *= inv;
}

// The adjoint of avg_plane: each output's g / kernel^2 added over its window.
void avg_plane_backward(const float* dy, const PoolGeometry& g, float* dx) {
  const float inv = 1.0f / static_cast<float>(g.kernel * g.kernel);
  std::fill(dx, dx + g.in_plane(), 0.0f);
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const float* gr = dy + oy * g.ow;
    for (int64_t i = 0; i < g.kernel; ++i) {
      float* row = dx + (oy * g.stride + i) * g.w;
      for (int64_t j = 0; j < g.kernel; ++j) {
        for (int64_t ox = 0; ox < g.ow; ++ox) row[ox * g.stride + j] += gr[ox] * inv;
      }
    }
  }
}

}  // namespace

Variable max_pool2d(const Variable& x, int64_t kernel, int64_t stride) {
  const PoolGeometry g = pool_geometry(x.shape(), kernel, stride, "max_pool2d");
  Tensor out(Shape{x.dim(0), x.dim(1), g.oh, g.ow});
  auto argmax = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(out.numel()));
  const float* px = x.data().data();
  float* po = out.data();
  int32_t* pa = argmax->data();
  const std::vector<int32_t> origins = window_origins(g);
#pragma omp parallel for schedule(static) if (parallel_planes(g))
  for (int64_t p = 0; p < g.planes; ++p) {
    max_plane(px + p * g.in_plane(), g, origins.data(), po + p * g.out_plane(), pa + p * g.out_plane());
  }
  auto backward = [g, argmax](std::vector<Variable>& in, const Tensor& grad) {
    if (!in[0].requires_grad()) return;
    Tensor dx = Tensor::zeros(in[0].shape());
    const float* pg = grad.data();
    const int32_t* arg = argmax->data();
    float* pd = dx.data();
#pragma omp parallel for schedule(static) if (parallel_planes(g))
    for (int64_t p = 0; p < g.planes; ++p) {
      float* plane = pd + p * g.in_plane();
      for (int64_t q = p * g.out_plane(); q < (p + 1) * g.out_plane(); ++q) plane[arg[q]] += pg[q];
    }
    in[0].add_grad(dx);
  };
  return Variable(out, {x}, backward, "max_pool2d");
}

Variable avg_pool2d(const Variable& x, int64_t kernel, int64_t stride) {
  const PoolGeometry g = pool_geometry(x.shape(), kernel, stride, "avg_pool2d");
  Tensor out(Shape{x.dim(0), x.dim(1), g.oh, g.ow});
  const float* px = x.data().data();
  float* po = out.data();
  const std::vector<int32_t> origins = window_origins(g);
#pragma omp parallel for schedule(static) if (parallel_planes(g))
  for (int64_t p = 0; p < g.planes; ++p) avg_plane(px + p * g.in_plane(), g, origins.data(), po + p * g.out_plane());
  auto backward = [g](std::vector<Variable>& in, const Tensor& grad) {
    if (!in[0].requires_grad()) return;
    Tensor dx(in[0].shape());
    const float* pg = grad.data();
    float* pd = dx.data();
#pragma omp parallel for schedule(static) if (parallel_planes(g))
    for (int64_t p = 0; p < g.planes; ++p) {
      avg_plane_backward(pg + p * g.out_plane(), g, pd + p * g.in_plane());
    }
    in[0].add_grad(dx);
  };
  return Variable(out, {x}, backward, "avg_pool2d");
}

}  // namespace qforge::autograd
