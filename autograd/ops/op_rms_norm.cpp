// RMSNorm over the last axis (Zhang & Sennrich 2019, eq. 4; Llama's RMSNorm):
//   y = x * r * w,   r = 1 / sqrt(mean(x^2) + eps) per row.
// Backward, with gw = g * w and xhat = x * r (differentiate r = (ms + eps)^-1/2, ms = mean(x^2)):
//   dx = r * (gw - xhat * mean(gw * xhat)),   dw = sum over rows of g * xhat.
// Forward reads each row once and saves r; backward reads g and x once per row (the row stays in
// L1 between its two short loops) and writes dx, accumulating dw into per-chunk partial buffers.
#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"
#include "autograd/ops/norm_common.h"

namespace qforge::autograd {

namespace {

Tensor rms_forward(const Tensor& x, const Tensor& w, float eps, Tensor& rstd) {
  const int64_t d = x.dim(-1), rows = x.numel() / std::max<int64_t>(d, 1);
  Tensor out(x.shape());
  const float* px = x.data();
  const float* pw = w.data();
  float* po = out.data();
  float* pr = rstd.data();
#pragma omp parallel for schedule(static) if (x.numel() > kernels::kParallelThreshold)
  for (int64_t row = 0; row < rows; ++row) {
    const float* xr = px + row * d;
    float* yr = po + row * d;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    pr[row] = r;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * r * pw[j];
  }
  return out;
}

// dx (when dx != nullptr) and the per-chunk dw partials (when partial != nullptr).
void rms_backward(const Tensor& x, const Tensor& w, const Tensor& rstd, const Tensor& g, float* dx, float* partial,
                  int64_t chunks) {
  const int64_t d = x.dim(-1), rows = x.numel() / d;
  const float* px = x.data();
  const float* pw = w.data();
  const float* pg = g.data();
  const float* pr = rstd.data();
  const float inv_d = 1.0f / static_cast<float>(d);
#pragma omp parallel for schedule(static) if (x.numel() > kernels::kParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    float* dw = partial ? partial + c * d : nullptr;
    if (dw) std::fill(dw, dw + d, 0.0f);
    for (int64_t row = rows * c / chunks; row < rows * (c + 1) / chunks; ++row) {
      const float* xr = px + row * d;
      const float* gr = pg + row * d;
      const float r = pr[row];
      if (dx) {
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < d; ++j) dot += gr[j] * pw[j] * xr[j];
        const float coef = dot * r * r * inv_d;  // xhat * mean(gw * xhat) = x * r^2 * dot / d
        float* dxr = dx + row * d;
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) dxr[j] = r * (gr[j] * pw[j] - xr[j] * coef);
      }
      if (dw) {
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) dw[j] += gr[j] * xr[j] * r;
      }
    }
  }
}

}  // namespace

Variable rms_norm(const Variable& x, const Variable& weight, float eps) {
  norm::check_param(x, weight, "rms_norm", "weight");
  const int64_t d = x.dim(-1), rows = d == 0 ? 0 : x.numel() / d;
  Tensor rstd(Shape{rows});
  Tensor out = rms_forward(x.data(), weight.data(), eps, rstd);
  auto backward = [rstd, rows, d](std::vector<Variable>& in, const Tensor& g) {
    const int64_t chunks = std::min(rows, norm::kMaxChunks);
    Tensor dx = in[0].requires_grad() ? Tensor(in[0].shape()) : Tensor();  // empty when rows == 0
    std::vector<float> partial(in[1].requires_grad() ? chunks * d : 0);
    if (chunks > 0 && d > 0) {
      rms_backward(in[0].data(), in[1].data(), rstd, g, dx.defined() ? dx.data() : nullptr,
                   partial.empty() ? nullptr : partial.data(), chunks);
    }
    if (dx.defined()) in[0].add_grad(dx);
    if (in[1].requires_grad()) in[1].add_grad(norm::reduce_chunks(partial, chunks, d));
  };
  return Variable(out, {x, weight}, backward, "rms_norm");
}

}  // namespace qforge::autograd
