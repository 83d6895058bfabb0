// fake_quant: quantize -> dequantize with STE / clipped STE / LSQ / LSQ+ / SEQ backward (PACT lives in
// fake_quant_pact.cpp). The forward is one OpenMP pass (kernels/fake_quant_loops.h) that writes the
// output and, only for clipped STE with a gradient to record, a one-byte mask per element. LSQ
// needs no saved state besides x: its backward recomputes each element's code in a single pass that
// also writes dx (kernels/lsq_loops.h).
#include "fakequant/fake_quant_op.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "fakequant/element_formats.h"
#include "fakequant/fake_quant_internal.h"
#include "fakequant/kernels/fake_quant_elements.h"
#include "fakequant/kernels/fake_quant_loops.h"
#include "fakequant/kernels/lsq_loops.h"
#include "fakequant/param_layout.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {
namespace {

using autograd::Tensor;
using autograd::Variable;
using kernels::GridParams;

void check_spec(const QuantizerSpec& spec) {
  validate(spec, "fake_quant");
  if (spec.dynamic_per_token) {
    throw std::invalid_argument("fake_quant: dynamic per-token specs compute their own scales, call fake_quant_dynamic (" +
                                spec.describe() + ")");
  }
  if (spec.block_scales.enabled()) {
    throw std::invalid_argument("fake_quant: two-level scales (dq" + std::to_string(spec.block_scales.scale_bits) +
                                ") are not applied here; pass the dequantized group scales (" + spec.describe() + ")");
  }
}

// What the caller passed, for error messages: "shape [3]" or "an undefined Variable".
std::string describe_input(const Variable& v) {
  return v.defined() && v.data().defined() ? "shape " + v.shape().to_string() : "an undefined Variable";
}

void check_counts(const Variable& x, const Variable& scale, const Variable& zero_point, const QuantizerSpec& spec,
                  int64_t count) {
  const std::string needs = "fake_quant: x of shape " + x.shape().to_string() + " with " + spec.describe() + " needs " +
                            std::to_string(count);
  if (!scale.defined() || !scale.data().defined() || scale.numel() != count) {
    throw std::invalid_argument(needs + " scales, got scale of " + describe_input(scale));
  }
  if (zero_point.defined() && zero_point.data().defined() && zero_point.numel() != count) {
    throw std::invalid_argument(needs + " zero points, got zero_point of " + describe_input(zero_point));
  }
}

// Effective per-parameter scale, zero point and grid bounds.
GridParams resolve_params(const Variable& x, const Variable& scale, const Variable& zero_point,
                          const QuantizerSpec& spec, int64_t count) {
  GridParams p;
  for (auto* v : {&p.scale, &p.inv_scale, &p.zero_point, &p.low, &p.high}) v->resize(count);
  const bool has_zero_point = zero_point.defined() && zero_point.data().defined();
  if (!element_format_traits(spec.format).scaled) {  // FP16 / BF16 only round: scale 1, no zero point
    const GridBounds bounds = grid_bounds(spec, 0);
    for (int64_t c = 0; c < count; ++c) p.scale[c] = p.inv_scale[c] = 1.0f, p.low[c] = bounds.low, p.high[c] = bounds.high;
    return p;
  }
  check_counts(x, scale, zero_point, spec, count);
  const bool is_int = spec.format == ElementFormat::kInt;
  const IntFormat format{spec.bits, spec.symmetric};
  for (int64_t c = 0; c < count; ++c) {
    const float raw = scale.data().data()[c];
    if (!(raw > 0.0f) || !std::isfinite(raw)) {
      throw std::invalid_argument("fake_quant: scales must be positive and finite, got scale[" + std::to_string(c) +
                                  "] = " + std::to_string(raw));
    }
    const float zp_raw = has_zero_point ? zero_point.data().data()[c] : 0.0f;
    if (!std::isfinite(zp_raw) || (!is_int && zp_raw != 0.0f)) {
      throw std::invalid_argument("fake_quant: zero_point[" + std::to_string(c) + "] = " + std::to_string(zp_raw) +
                                  (is_int ? " is not finite" : " must be 0: " + element_format_name(spec.format) +
                                                                   " has no zero point"));
    }
    // torch._fake_quantize_learnable_*: round half to even, clamp to the code range.
    const float zp = is_int ? std::nearbyint(std::clamp(zp_raw, float(format.qmin()), float(format.qmax()))) : 0.0f;
    p.scale[c] = round_scale(raw, spec.scale_dtype);
    p.inv_scale[c] = 1.0f / p.scale[c];
    p.zero_point[c] = zp;
    const GridBounds bounds = grid_bounds(spec, static_cast<int32_t>(zp));
    p.low[c] = bounds.low;
    p.high[c] = bounds.high;
  }
  return p;
}

// g = 1 / sqrt(elements_per_scale * Qp), LSQ §2.2, unless the caller sets it. SEQ: ParetoQ's
// reference scales by the whole tensor, g = 1 / sqrt(numel * Qp), even with one alpha per row.
float lsq_grad_factor(const FakeQuantOptions& options, const QuantizerSpec& spec, int64_t numel, int64_t count) {
  if (options.grad_factor > 0.0f) return options.grad_factor;
  if (spec.estimator == Estimator::kSeq) {
    return static_cast<float>(1.0 / std::sqrt(std::max<double>(1.0, static_cast<double>(numel)) * format_max_magnitude(spec)));
  }
  const double per_scale = std::max<double>(1.0, static_cast<double>(numel) / static_cast<double>(count));
  return static_cast<float>(1.0 / std::sqrt(per_scale * format_max_magnitude(spec)));
}

Tensor scaled_gradient(const std::vector<double>& sums, double g, const autograd::Shape& shape) {
  Tensor out(shape);
  for (size_t c = 0; c < sums.size(); ++c) out.data()[c] = static_cast<float>(sums[c] * g);
  return out;
}

Variable lsq_result(Tensor out, const Variable& x, const Variable& scale, const Variable& zero_point,
                    std::shared_ptr<const GridParams> params, const kernels::Traversal& traversal,
                    const QuantizerSpec& spec, float g) {
  auto backward = [params, traversal, spec, g](std::vector<Variable>& in, const Tensor& dy) {
    const bool want_dx = in[0].requires_grad();
    Tensor dx = want_dx ? Tensor(in[0].shape()) : Tensor();
    const bool want_dzp = in.size() > 2 && in[2].requires_grad();
    std::vector<double> ds, dzp;
    kernels::with_op_element(spec, [&](const auto& element) {
      kernels::lsq_backward(element, *params, traversal, in[0].data().data(), dy.data(), want_dx ? dx.data() : nullptr,
                            want_dzp, ds, dzp);
    });
    if (want_dx) in[0].add_grad(dx);
    if (in[1].requires_grad()) in[1].add_grad(scaled_gradient(ds, g, in[1].shape()));
    if (want_dzp) in[2].add_grad(scaled_gradient(dzp, g, in[2].shape()));
  };
  std::vector<Variable> inputs{x, scale};
  if (spec.estimator == Estimator::kLsqPlus) inputs.push_back(zero_point);
  return Variable(out, std::move(inputs), backward, "fake_quant");
}

}  // namespace

namespace detail {

Variable straight_through_result(Tensor out, const Variable& x, ClipMask mask, const char* name) {
  if (!mask) {
    return Variable(out, {x}, [](std::vector<Variable>& in, const Tensor& dy) { in[0].add_grad(dy); }, name);
  }
  auto backward = [mask](std::vector<Variable>& in, const Tensor& dy) {
    Tensor dx(dy.shape());
    kernels::masked_copy(dy.data(), mask.get(), dx.data(), dy.numel());
    in[0].add_grad(dx);
  };
  return Variable(out, {x}, backward, name);
}

}  // namespace detail

Variable fake_quant(const Variable& x, const Variable& scale, const Variable& zero_point, const QuantizerSpec& spec,
                    const FakeQuantOptions& options) {
  if (!x.defined() || !x.data().defined()) throw std::invalid_argument("fake_quant: x is an undefined Variable");
  check_spec(spec);
  if (spec.estimator == Estimator::kPact) return detail::fake_quant_pact(x, scale, spec);
  const ParamLayout layout = layout_of(x.shape(), spec.granularity, "fake_quant");
  const bool learns = spec.estimator == Estimator::kLsq || spec.estimator == Estimator::kLsqPlus ||
                      spec.estimator == Estimator::kSeq;
  if (spec.estimator == Estimator::kLsqPlus && !(zero_point.defined() && zero_point.data().defined())) {
    throw std::invalid_argument("fake_quant: LSQ+ learns the zero point, got zero_point of an undefined Variable");
  }
  auto params = std::make_shared<const GridParams>(resolve_params(x, scale, zero_point, spec, layout.count));
  const kernels::Traversal traversal = kernels::plan_traversal(layout, x.numel());
  const bool records = autograd::grad_mode_enabled() && x.requires_grad();
  detail::ClipMask mask;
  if (spec.estimator == Estimator::kClippedSte && records) mask = detail::make_clip_mask(x.numel());
  Tensor out(x.shape());
  kernels::with_op_element(spec, [&](const auto& element) {
    kernels::fake_quant_forward(element, *params, traversal, x.data().data(), out.data(), mask.get());
  });
  if (!learns) return detail::straight_through_result(out, x, mask, "fake_quant");
  const float g = lsq_grad_factor(options, spec, x.numel(), layout.count);
  return lsq_result(out, x, scale, zero_point, params, traversal, spec, g);
}

}  // namespace qforge::fakequant
