#include "optim/clip_grad_norm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "optim/parallel.h"

namespace qforge::optim {

namespace {

using autograd::Tensor;
using autograd::Variable;

// Each chunk's partial sum is fixed whatever the thread count; partials add in chunk order.
constexpr int64_t kChunk = 4096;

double sum_of_squares(const Tensor& t) {
  const float* x = t.data();
  const int64_t n = t.numel();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n > detail::kParallelThreshold)
  for (int64_t c = 0; c < chunks; ++c) {
    double s = 0.0;
    const int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i) s += static_cast<double>(x[i]) * x[i];
    partial[static_cast<size_t>(c)] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

bool takes_part(const Variable& p) { return p.defined() && p.requires_grad() && p.has_grad(); }

}  // namespace

double grad_norm(const std::vector<Variable>& params) {
  double total = 0.0;
  for (const Variable& p : params) {
    if (takes_part(p)) total += sum_of_squares(p.grad());
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<Variable>& params, double max_norm) {
  if (!(max_norm >= 0.0) || !std::isfinite(max_norm)) {
    throw std::invalid_argument("clip_grad_norm: max_norm " + std::to_string(max_norm) +
                                " is not a finite value >= 0");
  }
  const double norm = grad_norm(params);
  const double scale = max_norm / (norm + 1e-6);
  if (!(scale < 1.0)) return norm;
  const float factor = static_cast<float>(scale);
  for (const Variable& p : params) {
    if (!takes_part(p)) continue;
    // Out of place: a gradient tensor may be shared with another variable's (see add_grad).
    const Tensor& grad = p.grad();
    Tensor scaled(grad.shape());
    const float* in = grad.data();
    float* out = scaled.data();
    const int64_t n = grad.numel();
#pragma omp parallel for simd schedule(static) if (n > detail::kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) out[i] = in[i] * factor;
    Variable handle = p;  // shares the node: resets the parameter's own gradient
    handle.zero_grad();
    handle.add_grad(scaled);
  }
  return norm;
}

}  // namespace qforge::optim
