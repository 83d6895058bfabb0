#pragma once
// Tensor-level quantization to real storage codes for every QuantizerSpec format: what `convert`
// hands to exporters (GGUF, safetensors) and what they hand back when reading. Like ggml's
// quantize_row_<type>_ref / dequantize_row_<type> pairs, this is the scalar reference that
// packed fast paths must reproduce.
//
// Contracts (tests/fakequant/test_quantized_tensor.cpp checks each):
//  - dequantize_tensor(quantize_tensor(x, p, spec)) equals, bit for bit and element by element,
//    value_grid.h fake_quantize_value(x, s, zp, spec) with (s, zp) = storable_params(p, spec).
//  - quantize_tensor(dequantize_tensor(q), q.params, q.spec) gives back q exactly (codes, params,
//    two-level scales), for every code quantize_tensor can produce.
// Signed zero: FP8, FP4 E2M1, FP16 and BF16 have a -0 code (0x80, 0x8, 0x8000) and keep it: -0.0 and
// negative inputs that round to zero map to -0, which dequantizes to -0.0 exactly as
// fake_quantize_value returns it, so the round trip is exact on the sign too. NF4 has a single zero
// (code 7, +0.0) and integer formats a single zero point: -0.0 maps to it and comes back as +0.0.
// NaN has no code in most formats and would poison a scale: quantize_tensor rejects it, naming the
// element. ±inf saturates like any large value (max code, or qmin/qmax).
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"
#include "fakequant/block_scales.h"
#include "fakequant/int_quantizer.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant {

struct QuantizedTensor {
  autograd::Shape shape;
  QuantizerSpec spec;
  // One code per element, row-major: int formats the integer code in [qmin, qmax]; FP8 the byte;
  // FP4 E2M1 / NF4 the 4-bit code; FP16 / BF16 the 16-bit pattern. Never an inf or NaN pattern.
  std::vector<int32_t> codes;
  // Per-parameter scales as stored (after storable_params) and zero points, in the parameter order
  // of fakequant/param_layout.h; empty for FP16/BF16, which store no scales.
  QuantParams params;
  // Empty unless spec.block_scales.enabled(); then params.scales == dequantize_scales(two_level).
  TwoLevelScales two_level;
};

// The granularity a tensor of `shape` is quantized with: spec.granularity, or one parameter per row
// of the last dimension (per group of the whole last dimension) when spec.dynamic_per_token.
GranularitySpec effective_granularity(const autograd::Shape& shape, const QuantizerSpec& spec);

// Scales outside [smallest, largest] would let dequantized values underflow to float32 subnormals
// or overflow to inf, breaking the exact round trip; quantize_tensor and dequantize_tensor reject
// them. smallest = FLT_MIN / (smallest nonzero grid magnitude), largest = FLT_MAX / (largest one),
// e.g. E4M3 [FLT_MIN * 2^9, FLT_MAX / 448], int8 [FLT_MIN, FLT_MAX / 255].
struct ScaleRange {
  float smallest = 0.0f;
  float largest = 0.0f;
};
ScaleRange supported_scale_range(const QuantizerSpec& spec);

// `params` has one scale and zero point per parameter of effective_granularity (ignored for FP16
// and BF16) and goes through storable_params first, so the codes are those of the stored scales.
// Throws std::invalid_argument naming the shape on a spec that fails validate(), wrong parameter
// counts, non-positive or unsupported scales, bad zero points, or a NaN element (naming its index).
QuantizedTensor quantize_tensor(const autograd::Tensor& x, const QuantParams& params, const QuantizerSpec& spec);

// Real values: (code - zp) * scale for ints, scale * value(code) for FP8/FP4/NF4, value(code) for
// FP16/BF16. Throws std::invalid_argument naming the shape on inconsistent sizes, codes outside the
// format (or inf/NaN patterns), or params that disagree with two_level.
autograd::Tensor dequantize_tensor(const QuantizedTensor& q);

}  // namespace qforge::fakequant
