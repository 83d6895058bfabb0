#pragma once
// The FakeQuant autograd op: x -> quantize -> dequantize for every QuantizerSpec format and
// granularity, with the surrogate gradient chosen by spec.estimator.
//
// Forward (bit for bit value_grid.h's fake_quantize_value on every element, and for integer
// formats torch.fake_quantize_per_{tensor,channel}_affine): with v = x / s (integer formats:
// x * (1 / s), PyTorch's order), r(v) the rounding onto the grid (clamped to [lo, hi] =
// grid_bounds(spec, zp)), out = s * r(v). FP16 / BF16 only round (no scale).
//
// Backward, per estimator:
//   kSte        (Bengio et al. 2013): dx = dy.
//   kClippedSte dx = dy where the element is inside the grid, else 0. Integer formats: the rounded
//               code zp + nearbyint(v) lies in [qmin, qmax] (exactly the cachemask backward of
//               torch.fake_quantize_per_*_affine). Float formats, the same idea: |v| is at most the
//               saturation threshold, the largest value that rounds to at most max without
//               saturating (max + half the top step: E4M3 464, E5M2 < 61440, E2M1 < 7, FP16 < 65520,
//               NF4 1.1385 mirroring its top midpoint; kernels/fast_rounding.h), so x = absmax with
//               an absmax / max scale is never clipped by float division rounding.
//   kLsq        (Esser et al. 2020, eq. 3, with §2.2's gradient scale g): dx as clipped STE;
//               ds = g * sum over the elements of that scale of dy * (inside ? r(v) - v : bound hit),
//               bound = qmin - zp or qmax - zp (float formats: -max or max by the sign of v). For integer formats the
//               expressions are those of PyTorch 1.13's _fake_quantize_learnable_per_{tensor,channel}
//               _affine backward, including its classification by nearbyint(zp + x * (1 / s))
//               (see kernels/fake_quant_elements.h); zero_point is a constant.
//   kLsqPlus    (Bhalgat et al. 2020): as kLsq, plus dzp = g * sum over clipped elements of -dy * s
//               (0 inside the grid), as torch computes it. Asymmetric integer formats only.
//   kPact       (Choi et al. 2018, §2, STE for the rounding): `scale` holds the clipping level alpha
//               (one value); the grid is [0, alpha] for an asymmetric (unsigned) format and
//               [-alpha, alpha] for a symmetric one (codes -qmax..qmax: the extra negative code of
//               the signed grid is not used), step = alpha / qmax (rounded to spec.scale_dtype).
//               dx = dy for 0 <= x < alpha (symmetric: -alpha < x < alpha), else 0;
//               dalpha = sum of dy over x >= alpha, minus the sum of dy over x <= -alpha (symmetric).
//               No gradient scale. Per-tensor integer formats only.
//   kSeq        (ParetoQ, Liu et al. 2025, §3 "stretched elastic quant"; its reference is
//               StretchedElasticQuant in facebookresearch/ParetoQ models/utils_quant.py, notes in
//               docs/seq.md §2-3): `scale` holds the clipping level alpha per tensor / channel / group. The
//               forward replaces the integer grid: with v = x / alpha, n = 2^(bits-1), c = 0.99,
//               out = alpha * (nearbyint(clamp(v, -c, c) * n - 0.5) + 0.5) / n, i.e. 2^bits balanced
//               levels without a zero (2 bits: alpha * {-3/4, -1/4, 1/4, 3/4}), in the reference's
//               float32 operation order (kernels/fake_quant_elements.h SeqElement).
//               dx = dy for |v| <= c, else 0 (the clip, not the top level 3/4, bounds the STE: stretched);
//               dalpha = g * sum of dy * (|v| <= c ? q(v) - v : sign(v) * (n - 0.5) / n)  (LSQ eq. 3 form),
//               g = 1 / sqrt(numel(x) * qmax): the reference scales by the whole tensor even with one
//               alpha per row (2 bits: qmax = 1, g = 1 / sqrt(numel)). Symmetric integer formats and
//               ternary (ParetoQ's 1.58 bits: n = 1.5 without the 0.5 shift, levels alpha * {-2/3, 0, 2/3},
//               clipped elements' term +-1 as the reference has it, not +-2/3). Its levels are not
//               codes * scale of the format, so quantize_tensor / convert refuse SEQ specs.
// Known difference from PyTorch 1.13: its per-tensor learnable backward reads the zero point as
// int(clamp(zp + 0.5)) while its forward uses nearbyint(zp) (they differ when zp is exactly a half
// integer, or negative); we use the forward's zero point in both passes, as its per-channel op does.
#include <cstdint>
#include <vector>

#include "autograd/variable.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant {

struct FakeQuantOptions {
  // LSQ/LSQ+ gradient scale g for the scale (and offset) gradient. <= 0: automatic,
  // g = 1 / sqrt(elements_per_scale * Qp) (LSQ paper §2.2, Qp = positive range of the grid:
  // qmax for integer formats, the largest magnitude for float formats).
  float grad_factor = -1.0f;
};

// x -> quantize -> dequantize, per spec (format, granularity, scale dtype, estimator).
// scale: Variable with parameter_count(x.shape, spec.granularity) positive finite elements (1-D);
//   it receives a gradient when spec.estimator learns it (LSQ, LSQ+, PACT, SEQ), else it is a constant.
//   FP16 / BF16 ignore it (it may be undefined). For kPact it holds alpha (one value), for kSeq alpha
//   per parameter.
// zero_point: float values, as many as scales (integer formats); an undefined Variable means all
//   zeros (required so for float formats, which have no zero point). The forward uses
//   nearbyint(clamp(zp, qmin, qmax)) (round half to even) like torch._fake_quantize_learnable_*;
//   LSQ+ learns it (it must be defined then), every other estimator treats it as a constant.
// spec.scale_dtype != kFp32: scales are rounded with round_scale() in the forward; the scale
//   gradient passes straight through that rounding.
// Two-level scales (spec.block_scales) and dynamic per-token specs are not accepted here.
// Throws std::invalid_argument naming "fake_quant", the shapes and the counts when they do not fit.
autograd::Variable fake_quant(const autograd::Variable& x, const autograd::Variable& scale,
                              const autograd::Variable& zero_point, const QuantizerSpec& spec,
                              const FakeQuantOptions& options = {});

// Dynamic per-token quantization (spec.dynamic_per_token; spec.granularity is ignored): one scale
// per row of the last dimension, computed from that row in the forward with value_grid.h's
// choose_scale (symmetric int: absmax / qmax; asymmetric int: min/max widened to contain 0 with a
// rounded zero point; float formats: absmax / format max; rounded to spec.scale_dtype), then
// fake-quantized like fake_quant. No learnable parameters; backward kSte (dx = dy) or kClippedSte.
// With absmax (min/max) scales nothing is clipped, so clipped STE equals STE, except where a value
// is moved past the integer grid by the rounded asymmetric zero point (up to half a step at the
// range ends) or by a scale that spec.scale_dtype rounded down (e.g. bf16 scales, relative error up
// to 2^-9, with 8-bit asymmetric codes: 255 * 2^-9 > 0.5 step). Float formats have half a top step
// of margin (fake_quant above), which no scale rounding reaches.
// spec.outlier_threshold t > 0 (LLM.int8(), Dettmers et al. 2022, §3.3): the columns outlier_columns
// marks are rounded to FP16 instead (gradient dx = dy there), and elements with |x| >= t count as 0 in
// their row's min/max, so the row's scale comes from its regular values.
autograd::Variable fake_quant_dynamic(const autograd::Variable& x, const QuantizerSpec& spec);

// LLM.int8()'s outlier columns of x viewed as [rows, cols] (row-major): 1 where some row holds
// |x| >= threshold in that column (NaN never does). One home for the rule: fake_quant_dynamic uses it,
// and ptq/llm_int8 counts with it.
std::vector<uint8_t> outlier_columns(const float* x, int64_t rows, int64_t cols, float threshold);

}  // namespace qforge::fakequant
