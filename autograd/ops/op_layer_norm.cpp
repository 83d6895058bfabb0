// LayerNorm over the last axis (Ba, Kiros & Hinton 2016, eq. 4; biased variance as torch.nn.LayerNorm):
//   y = xhat * w + b,   xhat = (x - mu) * r,   r = 1 / sqrt(var + eps).
// Backward, with gw = g * w (the standard result of differentiating mu and var through xhat):
//   dx = r * (gw - mean(gw) - xhat * mean(gw * xhat)),   dw = sum_rows g * xhat,   db = sum_rows g.
// Forward saves mu and r per row; each row is read from memory once per pass (it stays in L1
// between the short loops over it).
#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"
#include "autograd/ops/norm_common.h"

namespace qforge::autograd {

namespace {

// Row statistics: mean first, then the variance around it (two passes over an L1-resident row
// avoid the cancellation of E[x^2] - E[x]^2).
Tensor layer_forward(const Tensor& x, const Tensor& w, const Tensor& b, float eps, Tensor& mean, Tensor& rstd) {
  const int64_t d = x.dim(-1), rows = mean.numel();
  Tensor out(x.shape());
  const float* px = x.data();
  const float* pw = w.data();
  const float* pb = b.data();
  float* po = out.data();
  float* pm = mean.data();
  float* pr = rstd.data();
  const float inv_d = 1.0f / static_cast<float>(d);
#pragma omp parallel for schedule(static) if (x.numel() > kernels::kParallelThreshold)
  for (int64_t row = 0; row < rows; ++row) {
    const float* xr = px + row * d;
    float* yr = po + row * d;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < d; ++j) s += xr[j];
    const float mu = s * inv_d;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < d; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
    const float r = 1.0f / std::sqrt(ss * inv_d + eps);
    pm[row] = mu;
    pr[row] = r;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mu) * r * pw[j] + pb[j];
  }
  return out;
}

struct LayerGrads {
  float* dx;  // nullptr when x needs no gradient
  float* dw;  // per-chunk partials [chunks, d] or nullptr
  float* db;  // per-chunk partials [chunks, d] or nullptr
};

void layer_backward(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd, const Tensor& g,
                    const LayerGrads& out, int64_t chunks) {
  const int64_t d = x.dim(-1), rows = mean.numel();
  const float* px = x.data();
  const float* pw = w.data();
  const float* pg = g.data();
  const float inv_d = 1.0f / static_cast<float>(d);
#pragma omp parallel for schedule(static) if (x.numel() > kernels::kParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    float* dw = out.dw ? out.dw + c * d : nullptr;
    float* db = out.db ? out.db + c * d : nullptr;
    if (dw) std::fill(dw, dw + d, 0.0f);
    if (db) std::fill(db, db + d, 0.0f);
    for (int64_t row = rows * c / chunks; row < rows * (c + 1) / chunks; ++row) {
      const float* xr = px + row * d;
      const float* gr = pg + row * d;
      const float mu = mean.data()[row], r = rstd.data()[row];
      if (out.dx) {
        float sum_gw = 0.0f, dot = 0.0f;  // sum(gw), sum(gw * (x - mu))
#pragma omp simd reduction(+ : sum_gw, dot)
        for (int64_t j = 0; j < d; ++j) {
          const float gw = gr[j] * pw[j];
          sum_gw += gw;
          dot += gw * (xr[j] - mu);
        }
        const float mean_gw = sum_gw * inv_d, coef = dot * r * inv_d;  // mean(gw * xhat) = r * dot / d
        float* dxr = out.dx + row * d;
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) dxr[j] = r * (gr[j] * pw[j] - mean_gw - (xr[j] - mu) * r * coef);
      }
      if (dw) {
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) dw[j] += gr[j] * (xr[j] - mu) * r;
      }
      if (db) {
#pragma omp simd
        for (int64_t j = 0; j < d; ++j) db[j] += gr[j];
      }
    }
  }
}

}  // namespace

Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, float eps) {
  norm::check_param(x, weight, "layer_norm", "weight");
  norm::check_param(x, bias, "layer_norm", "bias");
  const int64_t d = x.dim(-1), rows = d == 0 ? 0 : x.numel() / d;
  Tensor mean(Shape{rows}), rstd(Shape{rows});
  Tensor out = layer_forward(x.data(), weight.data(), bias.data(), eps, mean, rstd);
  auto backward = [mean, rstd, rows, d](std::vector<Variable>& in, const Tensor& g) {
    const int64_t chunks = std::min(rows, norm::kMaxChunks);
    Tensor dx = in[0].requires_grad() ? Tensor(in[0].shape()) : Tensor();  // empty when rows == 0
    std::vector<float> dw(in[1].requires_grad() ? chunks * d : 0), db(in[2].requires_grad() ? chunks * d : 0);
    if (chunks > 0 && d > 0) {
      const LayerGrads grads{dx.defined() ? dx.data() : nullptr, dw.empty() ? nullptr : dw.data(),
                             db.empty() ? nullptr : db.data()};
      layer_backward(in[0].data(), in[1].data(), mean, rstd, g, grads, chunks);
    }
    if (dx.defined()) in[0].add_grad(dx);
    if (in[1].requires_grad()) in[1].add_grad(norm::reduce_chunks(dw, chunks, d));
    if (in[2].requires_grad()) in[2].add_grad(norm::reduce_chunks(db, chunks, d));
  };
  return Variable(out, {x, weight, bias}, backward, "layer_norm");
}

}  // namespace qforge::autograd
