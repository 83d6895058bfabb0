#include "fakequant/quantized_tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fakequant/formats/fp4.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"
#include "fakequant/formats/nf4.h"
#include "fakequant/param_layout.h"
#include "fakequant/value_grid.h"

namespace qforge::fakequant {
namespace {

bool is_scaled(ElementFormat format) { return format != ElementFormat::kFp16 && format != ElementFormat::kBf16; }

std::string context_of(const char* op, const Shape& shape) {
  return std::string(op) + " (tensor of shape " + shape.to_string() + ")";
}

// Storage code of one element of a float format; `v` is already divided by its scale. The same
// codec calls value_grid.h round_to_format makes, so decoding gives exactly its result.
int32_t encode_element(ElementFormat format, float v) {
  switch (format) {
    case ElementFormat::kFp8E4M3: return encode_e4m3(v, Fp8Mode::kSaturate);
    case ElementFormat::kFp8E5M2: return encode_e5m2(v, Fp8Mode::kSaturate);
    case ElementFormat::kFp4E2M1: return encode_e2m1(v);
    case ElementFormat::kNf4: return encode_nf4(v);
    // round_to_format saturates at the largest finite value, whose encoding is then exact.
    case ElementFormat::kFp16: return encode_fp16(round_to_format(format, v));
    case ElementFormat::kBf16: return encode_bf16(round_to_format(format, v));
    case ElementFormat::kInt: break;
  }
  throw std::invalid_argument("encode_element: integer formats use quantize_value");
}

float decode_element(ElementFormat format, int32_t code) {
  switch (format) {
    case ElementFormat::kFp8E4M3: return decode_e4m3(static_cast<uint8_t>(code));
    case ElementFormat::kFp8E5M2: return decode_e5m2(static_cast<uint8_t>(code));
    case ElementFormat::kFp4E2M1: return decode_e2m1(static_cast<uint8_t>(code));
    case ElementFormat::kNf4: return decode_nf4(static_cast<uint8_t>(code));
    case ElementFormat::kFp16: return decode_fp16(static_cast<uint16_t>(code));
    case ElementFormat::kBf16: return decode_bf16(static_cast<uint16_t>(code));
    case ElementFormat::kInt: break;
  }
  throw std::invalid_argument("decode_element: integer formats use dequantize_value");
}

// Codes quantize_tensor can produce: in range and, for the float formats, not an inf/NaN pattern.
bool is_valid_code(const QuantizerSpec& spec, int32_t code) {
  switch (spec.format) {
    case ElementFormat::kInt: {
      const IntFormat format{spec.bits, spec.symmetric};
      return code >= format.qmin() && code <= format.qmax();
    }
    case ElementFormat::kFp8E4M3: return code >= 0 && code <= 0xFF && (code & 0x7F) != 0x7F;
    case ElementFormat::kFp8E5M2: return code >= 0 && code <= 0xFF && (code & 0x7F) < 0x7C;
    case ElementFormat::kFp4E2M1:
    case ElementFormat::kNf4: return code >= 0 && code <= 0xF;
    case ElementFormat::kFp16: return code >= 0 && code <= 0xFFFF && (code & 0x7FFF) < 0x7C00;
    case ElementFormat::kBf16: return code >= 0 && code <= 0xFFFF && (code & 0x7FFF) < 0x7F80;
  }
  return false;
}

// Smallest and largest nonzero magnitude of the grid in units of the scale.
std::pair<float, float> grid_magnitudes(const QuantizerSpec& spec) {
  switch (spec.format) {
    case ElementFormat::kInt: return {1.0f, static_cast<float>((1 << spec.bits) - 1)};
    case ElementFormat::kFp8E4M3: return {std::ldexp(1.0f, -9), 448.0f};
    case ElementFormat::kFp8E5M2: return {std::ldexp(1.0f, -16), 57344.0f};
    case ElementFormat::kFp4E2M1: return {0.5f, kE2m1Max};
    case ElementFormat::kNf4: return {kNf4Values[8], 1.0f};  // 0.0796 is the smallest |nonzero| value
    default: return {1.0f, 1.0f};
  }
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
  for (size_t i = 0; i < q.codes.size(); ++i) {
    if (!is_valid_code(q.spec, q.codes[i])) {
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
  QuantizedTensor q{x.shape(), spec, std::vector<int32_t>(x.numel()), {}, {}};
  const float* in = x.data();
  int32_t* codes = q.codes.data();
  if (!is_scaled(spec.format)) {
    check_not_nan(x, op);
    for_each_element(x.shape(), [&](int64_t i) { codes[i] = encode_element(spec.format, in[i]); });
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
  if (spec.format == ElementFormat::kInt) {
    const IntFormat format{spec.bits, spec.symmetric};
    const int qmin = format.qmin(), qmax = format.qmax();
    // Same operation order as value_grid.h fake_quantize_value: x * (1 / scale).
    for_each_element(x.shape(), [&](int64_t i) {
      const int64_t p = layout.index(i);
      codes[i] = quantize_value(in[i], 1.0f / scales[p], zero_points[p], qmin, qmax);
    });
  } else {
    for_each_element(x.shape(), [&](int64_t i) { codes[i] = encode_element(spec.format, in[i] / scales[layout.index(i)]); });
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
  const ElementFormat format = q.spec.format;
  if (!is_scaled(format)) {
    for_each_element(q.shape, [&](int64_t i) { data[i] = decode_element(format, codes[i]); });
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
  if (format == ElementFormat::kInt) {
    for_each_element(q.shape, [&](int64_t i) {
      const int64_t p = layout.index(i);
      data[i] = dequantize_value(codes[i], scales[p], zero_points[p]);
    });
  } else {
    for_each_element(q.shape, [&](int64_t i) { data[i] = scales[layout.index(i)] * decode_element(format, codes[i]); });
  }
  return out;
}

}  // namespace qforge::fakequant
