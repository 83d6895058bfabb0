// Rotary position embedding (Su et al. 2021, RoFormer eq. 34) in Hugging Face Llama's rotate-half
// layout: element i of the first half pairs with element i + d/2, and with
//   angle(t, i) = (position_offset + t) * theta^(-2i/d),   c = cos(angle), s = sin(angle):
//   y[i] = x[i] c - x[i + d/2] s,   y[i + d/2] = x[i + d/2] c + x[i] s.
// The map is a rotation per pair, so the backward is the inverse rotation (angle -> -angle):
//   dx[i] = g[i] c + g[i + d/2] s,   dx[i + d/2] = g[i + d/2] c - g[i] s.
#include <cmath>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

struct RopeTables {
  Tensor cos, sin;  // [seq, d/2]
};

// Angles are formed in double (positions reach 10^5 and beyond, where a float product loses the
// low bits of the phase) and only the final cos/sin are rounded to float.
RopeTables make_tables(int64_t seq, std::span<const double> inv_freq, int64_t offset) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  RopeTables t{Tensor(Shape{seq, half}), Tensor(Shape{seq, half})};
  for (int64_t i = 0; i < half; ++i) {
    for (int64_t p = 0; p < seq; ++p) {
      const double angle = static_cast<double>(offset + p) * inv_freq[i];
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


// theta^(-2i/d) for i < d/2, the frequencies of the unscaled rotary embedding.
std::vector<double> default_frequencies(int64_t d, float theta) {
  std::vector<double> inv_freq(static_cast<size_t>(d / 2));
  for (size_t i = 0; i < inv_freq.size(); ++i)
    inv_freq[i] = 1.0 / std::pow(static_cast<double>(theta), static_cast<double>(2 * i) / static_cast<double>(d));
  return inv_freq;
}

Variable rope_with_tables(const Variable& x, RopeTables tables) {
  Tensor out = rotate(x.data(), tables, 1.0f);
  auto backward = [tables = std::move(tables)](std::vector<Variable>& in, const Tensor& g) {
    if (in[0].requires_grad()) in[0].add_grad(rotate(g, tables, -1.0f));
  };
  return Variable(out, {x}, backward, "rope");
}

void check_rope_input(const Variable& x) {
  if (x.ndim() < 2) {
    throw std::invalid_argument("rope: x must be [batch, heads, seq, head_dim] (at least [seq, head_dim]), got " +
                                x.shape().to_string());
  }
  const int64_t d = x.dim(-1);
  if (d % 2 != 0) {
    throw std::invalid_argument("rope: head_dim " + std::to_string(d) + " must be even, got x " +
                                x.shape().to_string());
  }
}

}  // namespace

Variable rope(const Variable& x, float theta, int64_t position_offset) {
  check_rope_input(x);
  if (!(theta > 0.0f)) throw std::invalid_argument("rope: theta must be positive, got " + std::to_string(theta));
  return rope_with_tables(x, make_tables(x.dim(-2), default_frequencies(x.dim(-1), theta), position_offset));
}

Variable rope(const Variable& x, std::span<const double> inv_freq, int64_t position_offset) {
  check_rope_input(x);
  if (static_cast<int64_t>(inv_freq.size()) * 2 != x.dim(-1)) {
    throw std::invalid_argument("rope: " + std::to_string(inv_freq.size()) + " frequencies for head_dim " +
                                std::to_string(x.dim(-1)) + " (need head_dim / 2)");
  }
  return rope_with_tables(x, make_tables(x.dim(-2), inv_freq, position_offset));
}

}  // namespace qforge::autograd
