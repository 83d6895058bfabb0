#pragma once
// The scalar reference of every element format of a QuantizerSpec: which range a scale maps onto,
// how one value rounds, and how scales are stored. Tensor kernels (fake_quant_op, tensor codecs,
// observers) must agree with these functions bit for bit; tests compare them.
#include <cstdint>

#include "fakequant/quant_math.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant {

// Largest magnitude of a scaled float format, the value a scale maps absmax onto:
// E4M3 448, E5M2 57344, E2M1 6, NF4 1. kInt: qmax of the spec; kFp16/kBf16: 1 (no scale).
float format_max_magnitude(const QuantizerSpec& spec);

// Nearest representable value of a float format to v (v already divided by the scale),
// saturating at ±format_max_magnitude: FP8 in Fp8Mode::kSaturate, E2M1 ties to even code, NF4 ties
// to the lower code, FP16/BF16 round to nearest even (FP16 overflow saturates to ±65504 here, since
// fake quantization must stay finite). NaN stays NaN. Not for kInt (std::invalid_argument).
float round_to_format(ElementFormat format, float v);

// Rounds a scale to its storage dtype (RNE); kFp32 leaves it unchanged. The result is clamped to
// a positive, finite float32 normal representable in the dtype, so a stored scale is never 0 or inf
// and 1/scale is finite: fp32 [FLT_MIN, FLT_MAX], fp16 [2^-24 (smallest fp16 subnormal), 65504],
// bf16 [FLT_MIN, largest finite bf16]. NaN stays NaN. fp16 scales below 2^-14 are subnormal and
// carry fewer significant bits (3.65 * 2^-24 is stored as 4 * 2^-24).
float round_scale(float scale, ScaleDtype dtype);

// Scale and zero point mapping the observed range [min_value, max_value] onto the format:
// kInt: choose_scale of quant_math.h; float formats: absmax / format_max_magnitude, zero point 0;
// kFp16/kBf16: scale 1. The scale is then rounded with round_scale(spec.scale_dtype).
ScaleAndZeroPoint choose_scale(float min_value, float max_value, const QuantizerSpec& spec);

// quantize -> dequantize of one value: kInt: (clamp(nearbyint(x / scale) + zp) - zp) * scale with
// PyTorch's operation order (x * (1 / scale)); float formats: scale * round_to_format(x / scale);
// kFp16/kBf16: round_to_format(x) (scale ignored).
float fake_quantize_value(float x, float scale, int32_t zero_point, const QuantizerSpec& spec);

// Bounds of the representable range in units of the scale, for clipping masks and LSQ:
// kInt: [qmin - zp, qmax - zp]; scaled float formats: [-max, max]; fp16/bf16: [-65504, 65504] /
// [-max bf16, max bf16].
struct GridBounds {
  float low = 0.0f;
  float high = 0.0f;
};
GridBounds grid_bounds(const QuantizerSpec& spec, int32_t zero_point);

}  // namespace qforge::fakequant
