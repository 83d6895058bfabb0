// PACT (Choi et al. 2018, "PACT: Parameterized Clipping Activation for Quantized Neural
// Networks", §2): y = clip(x, low, alpha) quantized onto qmax uniform steps of alpha / qmax, with a
// learnable clipping level alpha. The rounding uses the STE, so
//   dy_q/dx     = 1 for low <= x < alpha (symmetric: -alpha < x < alpha), else 0,
//   dy_q/dalpha = 1 for x >= alpha, -1 for x <= -alpha (symmetric grid only), else 0  (PACT eq. 3).
// The forward runs the integer element kernel with step alpha / qmax (rounded to spec.scale_dtype)
// and zero point 0; on the symmetric grid the codes stop at -qmax so the range is [-alpha, alpha].
// The backward needs only x and alpha, so the forward saves nothing.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "fakequant/fake_quant_internal.h"
#include "fakequant/kernels/fake_quant_elements.h"
#include "fakequant/kernels/fake_quant_loops.h"
#include "fakequant/kernels/lsq_loops.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant::detail {
namespace {

using autograd::Tensor;
using autograd::Variable;

// dx over one run and the run's contribution to dalpha. The per-element terms go through a small
// buffer so both loops vectorize (see kernels/lsq_loops.h).
template <bool kSymmetric, bool kDx>
double pact_span(const float* x, const float* dy, float* dx, int64_t n, float alpha) {
  alignas(64) float terms[kernels::kLsqBlock];
  double dalpha = 0.0;
  for (int64_t begin = 0; begin < n; begin += kernels::kLsqBlock) {
    const int64_t m = std::min(kernels::kLsqBlock, n - begin);
    const float* xb = x + begin;
    const float* dyb = dy + begin;
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      const float g = dyb[j];  // loaded unconditionally: GCC would otherwise emit masked loads
      const bool above = xb[j] >= alpha;
      const bool below = kSymmetric ? xb[j] <= -alpha : xb[j] < 0.0f;
      if constexpr (kDx) dx[begin + j] = (above | below) ? 0.0f : g;
      terms[j] = above ? g : ((kSymmetric & below) ? -g : 0.0f);
    }
    dalpha += kernels::sum_in_double(terms, m);
  }
  return dalpha;
}

template <bool kSymmetric>
double pact_backward(const kernels::Traversal& t, const float* x, const float* dy, float* dx, float alpha) {
  std::vector<double> partial(t.slots(), 0.0);
  kernels::for_each_segment(t, [&](int64_t begin, int64_t end, int64_t, int64_t slot) {
    partial[slot] = dx ? pact_span<kSymmetric, true>(x + begin, dy + begin, dx + begin, end - begin, alpha)
                       : pact_span<kSymmetric, false>(x + begin, dy + begin, nullptr, end - begin, alpha);
  });
  double dalpha = 0.0;
  for (double p : partial) dalpha += p;
  return dalpha;
}

float read_alpha(const Variable& alpha, const Variable& x) {
  if (!alpha.defined() || !alpha.data().defined() || alpha.numel() != 1) {
    throw std::invalid_argument("fake_quant: PACT needs 1 clipping level alpha (in `scale`) for x of shape " +
                                x.shape().to_string() + ", got " +
                                (alpha.defined() && alpha.data().defined() ? "shape " + alpha.shape().to_string()
                                                                           : std::string("an undefined Variable")));
  }
  const float value = alpha.item();
  if (!(value > 0.0f) || !std::isfinite(value)) {
    throw std::invalid_argument("fake_quant: PACT alpha must be positive and finite, got " + std::to_string(value));
  }
  return value;
}

}  // namespace

Variable fake_quant_pact(const Variable& x, const Variable& alpha, const QuantizerSpec& spec) {
  const float alpha_value = read_alpha(alpha, x);
  const float qmax = static_cast<float>(IntFormat{spec.bits, spec.symmetric}.qmax());
  kernels::GridParams p;
  p.scale = {round_scale(alpha_value / qmax, spec.scale_dtype)};
  p.inv_scale = {1.0f / p.scale[0]};
  p.zero_point = {0.0f};
  p.low = {spec.symmetric ? -qmax : 0.0f};
  p.high = {qmax};
  const kernels::Traversal traversal = kernels::plan_traversal(ParamLayout{std::max<int64_t>(x.numel(), 1), 1}, x.numel());
  Tensor out(x.shape());
  kernels::fake_quant_forward(kernels::IntElement{}, p, traversal, x.data().data(), out.data(), nullptr);

  const bool symmetric = spec.symmetric;
  auto backward = [traversal, alpha_value, symmetric](std::vector<Variable>& in, const Tensor& dy) {
    const bool want_dx = in[0].requires_grad();
    Tensor dx = want_dx ? Tensor(in[0].shape()) : Tensor();
    const float* xd = in[0].data().data();
    float* dxd = want_dx ? dx.data() : nullptr;
    const double dalpha = symmetric ? pact_backward<true>(traversal, xd, dy.data(), dxd, alpha_value)
                                    : pact_backward<false>(traversal, xd, dy.data(), dxd, alpha_value);
    if (want_dx) in[0].add_grad(dx);
    if (in[1].requires_grad()) in[1].add_grad(Tensor::full(in[1].shape(), static_cast<float>(dalpha)));
  };
  return Variable(out, {x, alpha}, backward, "fake_quant");
}

}  // namespace qforge::fakequant::detail
