// fake_quant_dynamic: per-token (per row of the last dimension) scales computed in the forward, as
// in dynamic W8A8 activation quantization (LLM.int8(), Dettmers et al. 2022, §3; SmoothQuant's
// per-token setting). Each row is read twice while it sits in cache: once for its min/max, once to
// quantize it with the element kernel of its format (and write the clipping mask when needed).
//
// With spec.outlier_threshold t > 0, LLM.int8()'s mixed-precision decomposition (§3.3, eq. 7):
// X W^T = X_O W_O^T (16 bit) + X_R W_R^T (int8), O the columns of X holding any |x| >= t in this
// forward. Writing the FP16 columns into the fake-quantized X gives exactly that sum in one matmul
// with whatever weight the layer uses. As bitsandbytes' int8_vectorwise_quant does, elements with
// |x| >= t count as 0 in their row's range (the rest of an outlier column still does; the paper
// leaves the whole column out, a difference only in the rare row whose absmax sits there), the
// comparison is >= (the paper says "larger than"), and the int8 part of an outlier column is zero.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/elementwise.h"
#include "fakequant/fake_quant_internal.h"
#include "fakequant/fake_quant_op.h"
#include "fakequant/kernels/fake_quant_elements.h"
#include "fakequant/kernels/fake_quant_loops.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {
namespace {

using autograd::Tensor;
using autograd::Variable;

// The outlier columns' indices, ascending; none without a threshold.
std::vector<int64_t> outlier_indices(const float* x, int64_t rows, int64_t cols, float threshold) {
  std::vector<int64_t> indices;
  if (threshold <= 0.0f) return indices;
  const std::vector<uint8_t> is_outlier = outlier_columns(x, rows, cols, threshold);
  for (int64_t j = 0; j < cols; ++j) {
    if (is_outlier[static_cast<size_t>(j)]) indices.push_back(j);
  }
  return indices;
}

template <class Element>
void quantize_rows(const Element& element, const QuantizerSpec& spec, const float* x, float* out, uint8_t* mask,
                   int64_t rows, int64_t cols) {
  // t = +inf without outliers: every |x| < t, and the range loop stays one branch-free pass.
  const float t = spec.outlier_threshold > 0.0f ? spec.outlier_threshold : std::numeric_limits<float>::infinity();
  const std::vector<int64_t> outliers = outlier_indices(x, rows, cols, spec.outlier_threshold);
#pragma omp parallel for schedule(static) if (rows * cols > autograd::kernels::kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float low = std::numeric_limits<float>::infinity(), high = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(min : low) reduction(max : high)
    for (int64_t j = 0; j < cols; ++j) {
      const float v = std::abs(xr[j]) >= t ? 0.0f : xr[j];
      low = std::min(low, v);
      high = std::max(high, v);
    }
    const ScaleAndZeroPoint chosen = choose_scale(low, high, spec);
    const GridBounds bounds = grid_bounds(spec, chosen.zero_point);
    const float s = chosen.scale, inv_s = 1.0f / chosen.scale;
    if (mask) {
      kernels::forward_span<true>(element, xr, out + r * cols, mask + r * cols, cols, s, inv_s, bounds.low, bounds.high);
    } else {
      kernels::forward_span<false>(element, xr, out + r * cols, nullptr, cols, s, inv_s, bounds.low, bounds.high);
    }
    for (const int64_t j : outliers) {
      out[r * cols + j] = round_to_format(ElementFormat::kFp16, xr[j]);
      if (mask) mask[r * cols + j] = 1;  // nothing clipped: dx = dy
    }
  }
}

}  // namespace

std::vector<uint8_t> outlier_columns(const float* x, int64_t rows, int64_t cols, float threshold) {
  std::vector<uint8_t> is_outlier(static_cast<size_t>(cols), 0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    for (int64_t j = 0; j < cols; ++j) is_outlier[static_cast<size_t>(j)] |= std::abs(xr[j]) >= threshold;
  }
  return is_outlier;
}

Variable fake_quant_dynamic(const Variable& x, const QuantizerSpec& spec) {
  if (!x.defined() || !x.data().defined()) throw std::invalid_argument("fake_quant_dynamic: x is an undefined Variable");
  QuantizerSpec per_token = spec;
  per_token.dynamic_per_token = true;
  per_token.granularity = GranularitySpec::per_tensor();
  validate(per_token, "fake_quant_dynamic");
  if (spec.block_scales.enabled()) {
    throw std::invalid_argument("fake_quant_dynamic: per-token scales cannot be two-level (" + spec.describe() + ")");
  }
  const int64_t cols = x.ndim() == 0 ? 1 : x.dim(-1);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  const bool records = autograd::grad_mode_enabled() && x.requires_grad();
  detail::ClipMask mask;
  if (spec.estimator == Estimator::kClippedSte && records) mask = detail::make_clip_mask(x.numel());
  Tensor out(x.shape());
  kernels::with_element(spec, [&](const auto& element) {
    quantize_rows(element, spec, x.data().data(), out.data(), mask.get(), rows, cols);
  });
  return detail::straight_through_result(out, x, mask, "fake_quant_dynamic");
}

}  // namespace qforge::fakequant
