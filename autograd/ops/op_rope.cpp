// Rotary position embedding (Su et al. 2021, RoFormer eq. 34) in Hugging Face Llama's rotate-half
// layout: element i of the first half pairs with element i + d/2, and with
//   angle(t, i) = (position_offset + t) * theta^(-2i/d),   c = cos(angle), s = sin(angle):
//   y[i] = x[i] c - x[i + d/2] s,   y[i + d/2] = x[i + d/2] c + x[i] s.
// The map is a rotation per pair, so the backward is the inverse rotation (angle -> -angle):
//   dx[i] = g[i] c + g[i + d/2] s,   dx[i + d/2] = g[i + d/2] c - g[i] s.
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

struct RopeTables {
  Tensor cos, sin;  // [seq, d/2]
};

// Angles are formed in double (positions reach 10^5 and beyond, where a float product loses the
// low bits of the phase) and only the final cos/sin are rounded to float.
RopeTables make_tables(int64_t seq, int64_t half, float theta, int64_t offset) {
  RopeTables t{Tensor(Shape{seq, half}), Tensor(Shape{seq, half})};
  const double d = static_cast<double>(2 * half);
  for (int64_t i = 0; i < half; ++i) {
    const double inv_freq = 1.0 / std::pow(static_cast<double>(theta), static_cast<double>(2 * i) / d);
    for (int64_t p = 0; p < seq; ++p) {
      const double angle = static_cast<double>(offset + p) * inv_freq;
      t.cos.data()[p * half + i] = static_cast<float>(std::cos(angle));
      t.sin.data()[p * half + i] = static_cast<float>(std::sin(angle));
    }
  }
  return t;
}

// Rotates every row of x [rows, seq, 2*half] by the tables; direction -1 rotates backwards.
Tensor rotate(const Tensor& x, const RopeTables& t, float direction) {
  const int64_t d = x.dim(-1), half = d / 2, seq = x.dim(-2), rows = x.numel() / d;
  Tensor out(x.shape());
  const float* px = x.data();
  const float* pc = t.cos.data();
  const float* ps = t.sin.data();
  float* po = out.data();
#pragma omp parallel for schedule(static) if (x.numel() > kernels::kParallelThreshold)
  for (int64_t row = 0; row < rows; ++row) {
    const float* lo = px + row * d;
    const float* hi = lo + half;
    const float* c = pc + (row % seq) * half;
    const float* s = ps + (row % seq) * half;
    float* ol = po + row * d;
    float* oh = ol + half;
#pragma omp simd
    for (int64_t i = 0; i < half; ++i) {
      const float sn = direction * s[i];
      ol[i] = lo[i] * c[i] - hi[i] * sn;
      oh[i] = hi[i] * c[i] + lo[i] * sn;
    }
  }
  return out;
}

}  // namespace

Variable rope(const Variable& x, float theta, int64_t position_offset) {
  if (x.ndim() < 2) {
    throw std::invalid_argument("rope: x must be [batch, heads, seq, head_dim] (at least [seq, head_dim]), got " +
                                x.shape().to_string());
  }
  const int64_t d = x.dim(-1);
  if (d % 2 != 0) {
    throw std::invalid_argument("rope: head_dim " + std::to_string(d) + " must be even, got x " +
                                x.shape().to_string());
  }
  if (!(theta > 0.0f)) throw std::invalid_argument("rope: theta must be positive, got " + std::to_string(theta));
  const RopeTables tables = make_tables(x.dim(-2), d / 2, theta, position_offset);
  Tensor out = rotate(x.data(), tables, 1.0f);
  auto backward = [tables](std::vector<Variable>& in, const Tensor& g) {
    if (in[0].requires_grad()) in[0].add_grad(rotate(g, tables, -1.0f));
  };
  return Variable(out, {x}, backward, "rope");
}

}  // namespace qforge::autograd
