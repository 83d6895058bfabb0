#pragma once
// How scales are stored: rounding to the scale dtype and two-level ("double") quantization of
// per-group scales (QuantizerSpec::block_scales), the scheme of GGUF k-quants (ggml-quants.c,
// quantize_row_q4_K_ref: 6-bit group scales under one fp16 `d` per 256-element super-block) and the
// reason QLoRA's double quantization exists (Dettmers et al. 2023, §3: scales cost 0.5 bit/element
// at block size 64 in fp32).
//
// The rule, per super-block (a run of spec.groups_per_super_block consecutive group scales in
// parameter order; the last run is shorter when the count is not a multiple, and gets its own
// super scale computed from its own scales), with top = 2^scale_bits - 1:
//   d = round_scale(max / top, super_scale_dtype)                      (k-quant style)
//   c = clamp(nearbyint(s / d), 1, top),   stored scale = d * c
// Codes start at 1, not 0: a stored scale of 0 would collapse its whole group to 0 and make 1/scale
// infinite (int codes NaN/garbage, float formats divide by zero). A scale below d/2 therefore comes
// back as d, i.e. it is overestimated; that only coarsens a group whose values are tiny next to the
// block maximum, which is the cheaper failure.
// Two adjustments make dequantize -> quantize give back the same codes and super scales bit for bit
// (d * top must map back to d): (1) when RNE rounded d up so far that the largest scale would get
// code top - 1 (possible for bf16 super scales with >= 7 scale bits, or fp16 subnormal d), d moves one
// step of its dtype down; (2) for fp32 super scales, d is moved to the nearest float within one ulp
// for which fl(fl(d * top) / top) == d (about 1 in 2^(b+1) floats is not such a fixed point).
#include <cstdint>
#include <string>
#include <vector>

#include "fakequant/int_quantizer.h"
#include "fakequant/quantizer_spec.h"

namespace qforge::fakequant {

struct TwoLevelScales {
  std::vector<int32_t> codes;        // one per group scale, in [1, 2^scale_bits - 1]
  std::vector<float> super_scales;   // one per super-block, values of spec.super_scale_dtype
};

// Number of super-blocks for `count` group scales: ceil(count / groups_per_super_block).
int64_t super_block_count(int64_t count, const BlockScaleSpec& spec);

// Throws std::invalid_argument when spec is off or out of range, or when a scale is not positive
// and finite (naming its index).
TwoLevelScales quantize_scales(const std::vector<float>& scales, const BlockScaleSpec& spec);

// d[j / groups_per_super_block] * codes[j] for j < count. Throws std::invalid_argument on wrong
// sizes, codes outside [1, top] or non-positive super scales.
std::vector<float> dequantize_scales(const TwoLevelScales& scales, const BlockScaleSpec& spec, size_t count);

// QuantParams whose scales are what a file stores.
//   two-level off: every scale rounded with round_scale(spec.scale_dtype);
//   two-level on:  dequantize_scales(quantize_scales(scales)) (scale_dtype does not apply);
//   kFp16/kBf16:   empty params (those formats store no scales).
// Asymmetric integer formats: where a scale changed, the zero point is recomputed for it as
// choose_scale does, zp' = clamp(nearbyint(qmin - low / s'), qmin, qmax), from the low edge of the
// original grid low = (qmin - zp) * s. Code zp' still means exactly 0, and the grid keeps the share
// of negative and positive range it had: its low edge stays within one step of the observed minimum
// (choose_scale, which sees the minimum itself, gets within half a step; the two zero points differ
// by one in a few percent of ranges). Idempotent: storable_params(storable_params(p)) == storable_params(p).
// Throws std::invalid_argument (naming `context`) when spec fails validate(), sizes disagree, a scale
// is not positive and finite, or a zero point is outside [qmin, qmax] (asymmetric) or not 0 (others).
QuantParams storable_params(const QuantParams& params, const QuantizerSpec& spec,
                            const std::string& context = "storable_params");

}  // namespace qforge::fakequant
