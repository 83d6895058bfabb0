#pragma once
// Integer quantization of whole tensors, no autograd: min/max scale selection, quantize to codes,
// dequantize, and fake-quantize (= dequantize(quantize(x))). Pure math in the style of
// pytorch/ao's quant_primitives and brevitas' function/ modules; the straight-through autograd
// ops build on top of this. Scalar conventions: fakequant/quant_math.h.
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"
#include "fakequant/quant_math.h"

namespace qforge::fakequant {

using autograd::Shape;
using autograd::Tensor;

enum class Granularity { kPerTensor, kPerChannel, kPerGroup };

// Which elements share one scale and zero point.
//   kPerTensor:  all of them (1 parameter).
//   kPerChannel: those with the same index along `axis` (dim(axis) parameters; torch's `axis`).
//   kPerGroup:   runs of `group_size` consecutive elements along the last (input) dimension, which
//                must be divisible by group_size (numel / group_size parameters, row-major order:
//                row r, group g -> r * (last_dim / group_size) + g), as in GPTQ/AWQ-style weights.
struct GranularitySpec {
  Granularity kind = Granularity::kPerTensor;
  int axis = 0;
  int64_t group_size = 0;

  static GranularitySpec per_tensor() { return {}; }
  static GranularitySpec per_channel(int axis) { return {Granularity::kPerChannel, axis, 0}; }
  static GranularitySpec per_group(int64_t group_size) { return {Granularity::kPerGroup, 0, group_size}; }
};

struct QuantParams {
  std::vector<float> scales;
  std::vector<int32_t> zero_points;  // all 0 for symmetric formats
};

// How many scale/zero-point pairs `spec` needs for a tensor of `shape`; throws
// std::invalid_argument naming the shape, axis or group size when `spec` does not fit.
int64_t parameter_count(const Shape& shape, const GranularitySpec& spec);

// Per-parameter min/max of `x`, then fakequant::choose_scale.
QuantParams compute_scales(const Tensor& x, const IntFormat& format, const GranularitySpec& spec);

// Integer codes in [format.qmin(), format.qmax()], row-major like `x`.
std::vector<int32_t> quantize(const Tensor& x, const QuantParams& params, const IntFormat& format,
                              const GranularitySpec& spec);

// Real values (code - zero_point) * scale with the given shape.
Tensor dequantize(const std::vector<int32_t>& codes, const Shape& shape, const QuantParams& params,
                  const GranularitySpec& spec);

// dequantize(quantize(x)) in one pass.
Tensor fake_quantize(const Tensor& x, const QuantParams& params, const IntFormat& format,
                     const GranularitySpec& spec);

}  // namespace qforge::fakequant
