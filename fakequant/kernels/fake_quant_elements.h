#pragma once
// Per-element forward and LSQ backward of the FakeQuant op, one small struct per family of element
// formats, and the dispatch from a QuantizerSpec to them. The loops in fake_quant_loops.h are
// templated on these structs, so the format is chosen once per call, outside the loop.
// Conventions (fake_quant_op.h): v = x / s in units of the scale, r(v) the grid rounding,
// out = s * r(v), [lo, hi] the grid bounds in units of the scale (value_grid.h's grid_bounds).
// Internal header: include it from fakequant .cpp files only.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "fakequant/element_formats.h"
#include "fakequant/kernels/fast_rounding.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant::kernels {

// Integer grids, with PyTorch's operation order (quant_math.h): v = x * (1 / s).
struct IntElement {
  // quantize_value + dequantize_value; `inside` is torch's cachemask of fake_quantize_per_*_affine:
  // the rounded code zp + nearbyint(v) before clamping lies in [qmin, qmax].
  float forward(float x, float s, float inv_s, float lo, float hi, bool& inside) const {
    const float v = x * inv_s;
    const float rounded = std::nearbyint(v);
    inside = (rounded >= lo) & (rounded <= hi);
    return IntRounding::clamp_code(rounded, v, lo, hi) * s;
  }

  // LSQ / LSQ+ terms of one element without the gradient scale g, exactly as PyTorch 1.13's
  // _fake_quantize_grad_learnable_{tensor,channel}_kernel (aten/src/ATen/native/quantized/cpu/
  // kernels/QuantizedOpKernels.cpp) computes them. Its code is nearbyint(zp + x * inv_s), which can
  // differ from the forward's zp + nearbyint(x * inv_s) by one when zp + v lands on a half integer;
  // and torch's AVX2/AVX-512 kernel builds contract zp + x * inv_s into one fused multiply-add
  // (checked against Debian's torch 1.13 on inputs where the two roundings differ), so we use
  // std::fma: the gradients then match torch's element for element.
  //   inside:  dx = dy,  ds = dy * (xfq - x) * inv_s (= dy * (r(v) - v)),   dzp = 0
  //   outside: dx = 0,   ds = dy * (qmin - zp or qmax - zp),               dzp = -dy * s
  bool lsq(float x, float dy, float s, float inv_s, float zp, float lo, float hi, float& ds, float& dzp) const {
    const float code = std::nearbyint(std::fma(x, inv_s, zp)) - zp;  // relative to the zero point, exact
    const bool inside = (code >= lo) & (code <= hi);
    const float clamped = code < lo ? lo : (code > hi ? hi : code);
    const float fake_quantized = clamped * s;
    ds = inside ? dy * (fake_quantized - x) * inv_s : dy * (code < lo ? lo : hi);
    dzp = inside ? 0.0f : -dy * s;
    return inside;
  }
};

// Scaled float formats (FP8, FP4, NF4) and, with s = 1, the unscaled FP16 / BF16: v = x / s,
// out = s * round_to_format(v), exactly value_grid.h's fake_quantize_value. An element is inside
// the grid when |v| <= clip, the format's saturation threshold (fast_rounding.h): the float analogue
// of PyTorch's "rounded code within [qmin, qmax]".
template <class Rounding>
struct FloatElement {
  Rounding rounding;
  float clip = 0.0f;

  float forward(float x, float s, float /*inv_s*/, float /*lo*/, float /*hi*/, bool& inside) const {
    const float v = x / s;
    inside = (v >= -clip) & (v <= clip);
    return s * rounding(v);
  }

  // LSQ (Esser et al. 2020, eq. 3) on a float grid: ds = dy * (r(v) - v) inside, dy times the bound
  // the value saturates at (lo = -max or hi = max) outside; dx = dy inside only. No zero point.
  bool lsq(float x, float dy, float s, float /*inv_s*/, float /*zp*/, float lo, float hi, float& ds,
           float& dzp) const {
    const float v = x / s;
    const bool inside = (v >= -clip) & (v <= clip);
    ds = inside ? dy * (rounding(v) - v) : dy * (v < 0.0f ? lo : hi);
    dzp = 0.0f;
    return inside;
  }
};

// ParetoQ's stretched elastic quantizer (Liu et al. 2025, "ParetoQ: Scaling Laws in Extremely
// Low-bit LLM Quantization", §3 and its reference StretchedElasticQuant in facebookresearch/ParetoQ
// models/utils_quant.py; docs/seq.md §2-3). s holds the clipping level alpha, not a step: with v = x / alpha,
//   out = alpha * (nearbyint(clamp(v, -c, c) * n - shift) + shift) / n,   c = 0.99,
// n = 2^(bits-1) levels per side and shift 0.5 for integer formats: 2^bits balanced levels without a
// zero, for 2 bits alpha * {-0.75, -0.25, 0.25, 0.75}. c < 1 keeps v = 1 from rounding up to an
// extra level. The operation order (divide by alpha, clamp, multiply by n, round half to even, divide
// by n, multiply by alpha) is the reference's, so the values match its float32 results bit for bit.
// Backward (the reference's, LSQ-style, Esser et al. 2020 eq. 3): inside = |v| <= c (both ends
// included); dx = dy inside, else 0; dalpha terms dy * (q(v) - v) inside and dy * (+-top) outside,
// top = (n - shift) / n, the level a clipped element takes (0.75 for 2 bits).
struct SeqElement {
  static constexpr float kClip = 0.99f;  // the reference's clip_val = 1 - 1e-2, compared in float32
  float levels = 2.0f;
  float shift = 0.5f;
  float top = 0.75f;

  // Ternary (ParetoQ's w_bits = 0): n = 1.5, no shift, levels alpha * {-2/3, 0, 2/3}; the reference's
  // top stays (n - shift) / n = 1, not the clipped level 2/3 (docs/seq.md §3).
  static SeqElement of(const QuantizerSpec& spec) {
    if (spec.format == ElementFormat::kTernary) return {1.5f, 0.0f, 1.0f};
    const float n = static_cast<float>(1 << (spec.bits - 1));
    return {n, 0.5f, (n - 0.5f) / n};
  }
  float level(float v) const {
    const float clamped = std::min(std::max(v, -kClip), kClip);
    return (std::nearbyint(clamped * levels - shift) + shift) / levels;
  }
  float forward(float x, float s, float /*inv_s*/, float /*lo*/, float /*hi*/, bool& inside) const {
    const float v = x / s;
    inside = (v >= -kClip) & (v <= kClip);
    return level(v) * s;
  }
  bool lsq(float x, float dy, float s, float /*inv_s*/, float /*zp*/, float /*lo*/, float /*hi*/, float& ds,
           float& dzp) const {
    const float v = x / s;
    const bool inside = (v >= -kClip) & (v <= kClip);
    ds = inside ? dy * (level(v) - v) : dy * (v < 0.0f ? -top : top);
    dzp = 0.0f;
    return inside;
  }
};

// Calls f(element) with the element struct of spec.format: the one switch over ElementFormat outside
// element_formats.h, because each case instantiates the loops with its own compile-time rounding
// functor. The maxima come from the format table, read once per call. -Werror=switch makes a format
// added to the enum without a case here a build error; tests/fakequant/test_element_formats.cpp runs
// every table row through this dispatch and compares it with value_grid.h's round_to_format.
static_assert(kElementFormatCount == 8, "with_element: one case per ElementFormat (element_formats.h)");
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
template <class F>
decltype(auto) with_element(const QuantizerSpec& spec, F&& f) {
  const float max = element_format_traits(spec.format).max_magnitude;
  switch (spec.format) {
    case ElementFormat::kInt: return f(IntElement{});
    case ElementFormat::kFp8E4M3: return f(FloatElement<E4m3Rounding>{{max}, kE4m3Clip});
    case ElementFormat::kFp8E5M2: return f(FloatElement<E5m2Rounding>{{max}, kE5m2Clip});
    case ElementFormat::kFp4E2M1: return f(FloatElement<E2m1Rounding>{{max}, kE2m1Clip});
    case ElementFormat::kNf4: return f(FloatElement<Nf4Rounding>{Nf4Rounding::make(), kNf4Clip});
    case ElementFormat::kFp16: return f(FloatElement<Fp16Rounding>{{max}, kFp16Clip});
    case ElementFormat::kBf16: return f(FloatElement<Bf16Rounding>{{}, kBf16Clip});
    case ElementFormat::kTernary: return f(FloatElement<TernaryRounding>{{}, kTernaryClip});
  }
  throw std::invalid_argument("fake_quant: unknown element format");
}
#pragma GCC diagnostic pop

// The element struct of the FakeQuant op: SEQ's own grid (kSeq), else the grid of spec.format.
template <class F>
decltype(auto) with_op_element(const QuantizerSpec& spec, F&& f) {
  if (spec.estimator == Estimator::kSeq) return f(SeqElement::of(spec));
  return with_element(spec, f);
}

}  // namespace qforge::fakequant::kernels
