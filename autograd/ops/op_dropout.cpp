// Inverted dropout (Srivastava et al. 2014, with PyTorch's train-time 1/(1-p) scaling):
//   y = x * m / (1 - p),   m = [u >= p],   dy/dx = m / (1 - p).
// u is drawn by a counter-based generator: the element's index is hashed with the seed by the
// splitmix64 finaliser (Steele, Lea & Flood 2014), so the mask is a pure function of
// (seed, index). It needs no storage, backward recomputes it, and it does not depend on the
// thread count or on how the loop is scheduled.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int64_t g_first_row = 0;  // set_dropout_first_row

struct DropoutMask {
  uint64_t key;        // mix64(seed): seeds that differ by a multiple of the gamma give unrelated streams
  uint64_t offset;     // global index of element 0 (a data-parallel shard's first row times the row size)
  uint64_t threshold;  // drop when the top 32 bits of the hash are below p * 2^32
  float scale;         // 1 / (1 - p)
};

// out[i] = in[i] * scale where kept, 0 where dropped (forward on x, backward on the gradient).
Tensor apply_mask(const Tensor& in, const DropoutMask& m) {
  Tensor out(in.shape());
  const float* pi = in.data();
  float* po = out.data();
  const int64_t n = in.numel();
#pragma omp parallel for simd schedule(static) if (n > kernels::kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t bits = mix64(m.key + (m.offset + static_cast<uint64_t>(i + 1)) * kGoldenGamma);
    po[i] = (bits >> 32) >= m.threshold ? pi[i] * m.scale : 0.0f;
  }
  return out;
}

}  // namespace

void set_dropout_first_row(int64_t first_row) { g_first_row = first_row; }

Variable dropout(const Variable& x, float p, uint64_t seed, bool training) {
  if (!(p >= 0.0f && p < 1.0f)) {
    throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p));
  }
  if (!training || p == 0.0f) return x;
  const int64_t row_size = x.ndim() > 0 && x.dim(0) > 0 ? x.numel() / x.dim(0) : 0;
  const DropoutMask mask{mix64(seed), static_cast<uint64_t>(g_first_row * row_size),
                         static_cast<uint64_t>(std::ldexp(static_cast<double>(p), 32)), 1.0f / (1.0f - p)};
  Tensor out = apply_mask(x.data(), mask);
  auto backward = [mask](std::vector<Variable>& in, const Tensor& g) {
    if (in[0].requires_grad()) in[0].add_grad(apply_mask(g, mask));
  };
  return Variable(out, {x}, backward, "dropout");
}

}  // namespace qforge::autograd
