// max along one axis (keepdim optional). As torch.max(x, dim), the forward records the index of
// the first maximal element (NaN counts as maximal, so it propagates) and the backward routes
// the whole gradient there: d x[o, r, i] = g[o, i] if r == argmax[o, i], else 0.
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

// True when v should replace the running maximum `best` (strictly greater keeps the first).
inline bool beats(float v, float best) { return v > best || (std::isnan(v) && !std::isnan(best)); }

// out[o, i] = max_r x[o, r, i], arg[o, i] = first r attaining it.
void max_forward(const float* x, float* out, int32_t* arg, const kernels::AxisSplit& s) {
  if (s.inner == 1) {
#pragma omp parallel for schedule(static) if (s.outer * s.reduced > kernels::kParallelThreshold)
    for (int64_t o = 0; o < s.outer; ++o) {
      const float* row = x + o * s.reduced;
      float best = row[0];
      int32_t where = 0;
      for (int64_t r = 1; r < s.reduced; ++r) {
        if (beats(row[r], best)) {
          best = row[r];
          where = static_cast<int32_t>(r);
        }
      }
      out[o] = best;
      arg[o] = where;
    }
    return;
  }
  // Strided axis: sweep whole rows of `inner` so the compare-and-select vectorises.
#pragma omp parallel for schedule(static) if (s.outer * s.reduced * s.inner > kernels::kParallelThreshold)
  for (int64_t o = 0; o < s.outer; ++o) {
    float* best = out + o * s.inner;
    int32_t* where = arg + o * s.inner;
    const float* base = x + o * s.reduced * s.inner;
    for (int64_t i = 0; i < s.inner; ++i) {
      best[i] = base[i];
      where[i] = 0;
    }
    for (int64_t r = 1; r < s.reduced; ++r) {
      const float* row = base + r * s.inner;
#pragma omp simd
      for (int64_t i = 0; i < s.inner; ++i) {
        const bool take = beats(row[i], best[i]);
        best[i] = take ? row[i] : best[i];
        where[i] = take ? static_cast<int32_t>(r) : where[i];
      }
    }
  }
}

Tensor max_backward(const Tensor& g, const std::vector<int32_t>& arg, const Shape& in_shape,
                    const kernels::AxisSplit& s) {
  Tensor dx = Tensor::zeros(in_shape);
  const float* pg = g.data();
  float* pd = dx.data();
#pragma omp parallel for schedule(static) if (in_shape.numel() > kernels::kParallelThreshold)
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      const int64_t k = o * s.inner + i;
      pd[(o * s.reduced + arg[k]) * s.inner + i] = pg[k];
    }
  }
  return dx;
}

}  // namespace

Variable max(const Variable& x, int axis, bool keepdim) {
  const int a = x.shape().normalize_axis(axis, "max");
  if (x.shape()[a] == 0) {
    throw std::invalid_argument("max: axis " + std::to_string(axis) + " has size 0 in shape " + x.shape().to_string());
  }
  if (x.shape()[a] > INT32_MAX) throw std::invalid_argument("max: axis longer than 2^31 - 1");
  const kernels::AxisSplit split = kernels::split_around(x.shape(), a, a);
  std::vector<int64_t> dims = x.shape().to_vector();
  if (keepdim) dims[a] = 1;
  else dims.erase(dims.begin() + a);
  Tensor out{Shape(dims)};
  auto arg = std::make_shared<std::vector<int32_t>>(split.outer * split.inner);
  max_forward(x.data().data(), out.data(), arg->data(), split);
  auto backward = [arg, split](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(max_backward(g, *arg, in[0].shape(), split));
  };
  return Variable(out, {x}, backward, "max");
}

}  // namespace qforge::autograd
