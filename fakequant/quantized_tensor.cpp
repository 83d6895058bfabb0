#include "fakequant/quantized_tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fakequant/element_formats.h"
#include "fakequant/param_layout.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {
namespace {

std::string context_of(const char* op, const Shape& shape) {
  return std::string(op) + " (tensor of shape " + shape.to_string() + ")";
}

// Smallest and largest nonzero magnitude of the grid in units of the scale. Integer codes relative to
// the zero point reach 2^bits - 1 (an asymmetric grid with zp at one end).
std::pair<float, float> grid_magnitudes(const QuantizerSpec& spec) {
  const ElementFormatTraits& row = element_format_traits(spec.format);
  if (row.is_integer()) return {row.min_magnitude, static_cast<float>((1 << spec.bits) - 1)};
  if (!row.scaled) return {1.0f, 1.0f};  // fp16 / bf16 store no scale: any scale is supported
  return {row.min_magnitude, row.max_magnitude};
}

void check_param_count(const QuantParams& params, const ParamLayout& layout, const std::string& op) {
  const auto expected = static_cast<size_t>(layout.count);
  if (params.scales.size() != expected || params.zero_points.size() != expected) {
    throw std::invalid_argument(op + ": needs " + std::to_string(expected) + " scales and zero points, got " +
                                std::to_string(params.scales.size()) + " scales and " +
                                std::to_string(params.zero_points.size()) + " zero points");
  }
}

void check_scale_range(const std::vector<float>& scales, const QuantizerSpec& spec, const std::string& op) {
  const ScaleRange range = supported_scale_range(spec);
  for (size_t p = 0; p < scales.size(); ++p) {
    if (!(scales[p] >= range.smallest && scales[p] <= range.largest)) {
      throw std::invalid_argument(op + ": scale " + std::to_string(p) + " is " + std::to_string(scales[p]) +
                                  ", outside [" + std::to_string(range.smallest) + ", " +
                                  std::to_string(range.largest) + "] where " + element_format_name(spec.format) +
                                  " codes dequantize to normal floats");
    }
  }
}

void check_not_nan(const Tensor& x, const std::string& op) {
  const float* data = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (std::isnan(data[i])) {
      throw std::invalid_argument(op + ": element " + std::to_string(i) + " is NaN, which has no code");
    }
  }
}

void check_codes(const QuantizedTensor& q, const std::string& op) {
  if (static_cast<int64_t>(q.codes.size()) != q.shape.numel()) {
    throw std::invalid_argument(op + ": " + std::to_string(q.codes.size()) + " codes for " +
                                std::to_string(q.shape.numel()) + " elements");
  }
  // Codes quantize_tensor can produce: in [qmin, qmax] for ints; finite codes of the format otherwise.
  const ElementFormatTraits& row = element_format_traits(q.spec.format);
  const IntFormat ints{q.spec.bits, q.spec.symmetric};
  const auto valid = [&](int32_t code) {
    return row.is_integer() ? code >= ints.qmin() && code <= ints.qmax() : row.valid_code(code);
  };
  for (size_t i = 0; i < q.codes.size(); ++i) {
    if (!valid(q.codes[i])) {
      throw std::invalid_argument(op + ": code " + std::to_string(q.codes[i]) + " of element " + std::to_string(i) +
                                  " is not a finite " + element_format_name(q.spec.format) + " code");
    }
  }
}

// Params read back from a file are already what storable_params produces; anything else (an
// fp32 scale under fp16 scale_dtype, a stale zero point) would not survive a write.
void check_stored(const QuantParams& params, const QuantizerSpec& spec, const std::string& op) {
  const QuantParams stored = storable_params(params, spec, op);
  for (size_t p = 0; p < params.scales.size(); ++p) {
    if (stored.scales[p] != params.scales[p] || stored.zero_points[p] != params.zero_points[p]) {
      throw std::invalid_argument(op + ": parameter " + std::to_string(p) + " (scale " + std::to_string(params.scales[p]) +
                                  ", zero point " + std::to_string(params.zero_points[p]) +
                                  ") is not as stored; storable_params gives scale " + std::to_string(stored.scales[p]) +
                                  ", zero point " + std::to_string(stored.zero_points[p]));
    }
  }
}

// Rows of the last dimension, the unit OpenMP splits the work by (as in int_quantizer.cpp).
int64_t row_length(const Shape& shape) { return shape.ndim() == 0 ? 1 : std::max<int64_t>(shape[shape.ndim() - 1], 1); }

// Calls body(i) for every element, rows in parallel; body must not throw.
template <class Body>
void for_each_element(const Shape& shape, Body body) {
  const int64_t cols = row_length(shape), rows = shape.numel() / cols;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = r * cols; i < (r + 1) * cols; ++i) body(i);
  }
}

}  // namespace

GranularitySpec effective_granularity(const Shape& shape, const QuantizerSpec& spec) {
  if (!spec.dynamic_per_token) return spec.granularity;
  return GranularitySpec::per_group(row_length(shape));
}

ScaleRange supported_scale_range(const QuantizerSpec& spec) {
  const auto [smallest, largest] = grid_magnitudes(spec);
  return {std::numeric_limits<float>::min() / smallest, std::numeric_limits<float>::max() / largest};
}

QuantizedTensor quantize_tensor(const Tensor& x, const QuantParams& params, const QuantizerSpec& spec) {
  const std::string op = context_of("quantize_tensor", x.shape());
  validate(spec, op);
  if (spec.estimator == Estimator::kSeq) {
    // SEQ's levels alpha * (j + 0.5) / n (fake_quant_op.h) are not codes * scale of the integer grid
    // codes and dequantize_tensor describe; exporting them as int codes would change the weights.
    throw std::invalid_argument(op + ": " + spec.describe() + " quantizes onto SEQ's balanced levels (ParetoQ), "
                                "which have no integer codes in this format; export the fake-quantized float weights");
  }
  QuantizedTensor q{x.shape(), spec, std::vector<int32_t>(x.numel()), {}, {}};
  const float* in = x.data();
  int32_t* codes = q.codes.data();
  // The row is looked up once; its encode is the codec value_grid.h round_to_format decodes, so
  // dequantizing gives exactly fake_quantize_value.
  const ElementFormatTraits& row = element_format_traits(spec.format);
  if (!row.scaled) {
    check_not_nan(x, op);
    for_each_element(x.shape(), [&](int64_t i) { codes[i] = row.encode(in[i]); });
    return q;
  }
  const ParamLayout layout = layout_of(x.shape(), effective_granularity(x.shape(), spec), op.c_str());
  check_param_count(params, layout, op);
  q.params = storable_params(params, spec, op);
  if (spec.block_scales.enabled()) q.two_level = quantize_scales(params.scales, spec.block_scales);
  check_scale_range(q.params.scales, spec, op);
  check_not_nan(x, op);
  const std::vector<float>& scales = q.params.scales;
  const std::vector<int32_t>& zero_points = q.params.zero_points;
  if (row.is_integer()) {
    const IntFormat format{spec.bits, spec.symmetric};
    const int qmin = format.qmin(), qmax = format.qmax();
    // Same operation order as value_grid.h fake_quantize_value: x * (1 / scale).
    for_each_element(x.shape(), [&](int64_t i) {
      const int64_t p = layout.index(i);
      codes[i] = quantize_value(in[i], 1.0f / scales[p], zero_points[p], qmin, qmax);
    });
  } else {
    for_each_element(x.shape(), [&](int64_t i) { codes[i] = row.encode(in[i] / scales[layout.index(i)]); });
  }
  return q;
}

Tensor dequantize_tensor(const QuantizedTensor& q) {
  const std::string op = context_of("dequantize_tensor", q.shape);
  validate(q.spec, op);
  check_codes(q, op);
  Tensor out(q.shape);
  float* data = out.data();
  const int32_t* codes = q.codes.data();
  const ElementFormatTraits& row = element_format_traits(q.spec.format);
  if (!row.scaled) {
    for_each_element(q.shape, [&](int64_t i) { data[i] = row.decode(codes[i]); });
    return out;
  }
  const ParamLayout layout = layout_of(q.shape, effective_granularity(q.shape, q.spec), op.c_str());
  check_param_count(q.params, layout, op);
  if (q.spec.block_scales.enabled() &&
      dequantize_scales(q.two_level, q.spec.block_scales, q.params.scales.size()) != q.params.scales) {
    throw std::invalid_argument(op + ": params.scales differ from the two-level scales they must come from");
  }
  check_stored(q.params, q.spec, op);
  check_scale_range(q.params.scales, q.spec, op);
  const std::vector<float>& scales = q.params.scales;
  const std::vector<int32_t>& zero_points = q.params.zero_points;
  if (row.is_integer()) {
    for_each_element(q.shape, [&](int64_t i) {
      const int64_t p = layout.index(i);
      data[i] = dequantize_value(codes[i], scales[p], zero_points[p]);
    });
  } else {
    for_each_element(q.shape, [&](int64_t i) { data[i] = scales[layout.index(i)] * row.decode(codes[i]); });
  }
  return out;
}

}  // namespace qforge::fakequant
