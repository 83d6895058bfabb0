#include "fakequant/int_quantizer.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "fakequant/param_layout.h"

namespace qforge::fakequant {
namespace {

void check_params(const QuantParams& params, const ParamLayout& layout, const Shape& shape, const char* op) {
  const auto expected = static_cast<size_t>(layout.count);
  if (params.scales.size() != expected || params.zero_points.size() != expected) {
    throw std::invalid_argument(std::string(op) + ": tensor of shape " + shape.to_string() + " needs " +
                                std::to_string(expected) + " scales and zero points, got " +
                                std::to_string(params.scales.size()) + " scales and " +
                                std::to_string(params.zero_points.size()) + " zero points");
  }
  for (float scale : params.scales) {
    if (!(scale > 0.0f)) {
      throw std::invalid_argument(std::string(op) + ": scales must be positive, got " + std::to_string(scale));
    }
  }
}

void check_zero_points(const QuantParams& params, const IntFormat& format, const char* op) {
  for (int32_t zero_point : params.zero_points) {
    if (zero_point < format.qmin() || zero_point > format.qmax()) {
      throw std::invalid_argument(std::string(op) + ": zero point " + std::to_string(zero_point) + " is outside [" +
                                  std::to_string(format.qmin()) + ", " + std::to_string(format.qmax()) + "] of the " +
                                  std::to_string(format.bits) + "-bit format");
    }
  }
}

// Rows of the last dimension, the unit OpenMP splits the work by.
int64_t row_length(const Shape& shape) { return shape.ndim() == 0 ? 1 : std::max<int64_t>(shape[shape.ndim() - 1], 1); }

}  // namespace

int64_t parameter_count(const Shape& shape, const GranularitySpec& spec) {
  return layout_of(shape, spec, "parameter_count").count;
}

QuantParams compute_scales(const Tensor& x, const IntFormat& format, const GranularitySpec& spec) {
  check_format(format, "compute_scales");
  const ParamLayout layout = layout_of(x.shape(), spec, "compute_scales");
  std::vector<float> mins(layout.count, std::numeric_limits<float>::infinity());
  std::vector<float> maxs(layout.count, -std::numeric_limits<float>::infinity());
  const float* data = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t p = layout.index(i);
    mins[p] = std::min(mins[p], data[i]);
    maxs[p] = std::max(maxs[p], data[i]);
  }
  QuantParams params;
  params.scales.resize(layout.count);
  params.zero_points.resize(layout.count);
  for (int64_t p = 0; p < layout.count; ++p) {
    // An empty parameter slice (zero-sized tensor) gets the range [0, 0].
    const bool empty = mins[p] > maxs[p];
    const ScaleAndZeroPoint chosen = choose_scale(empty ? 0.0f : mins[p], empty ? 0.0f : maxs[p], format);
    params.scales[p] = chosen.scale;
    params.zero_points[p] = chosen.zero_point;
  }
  return params;
}

std::vector<int32_t> quantize(const Tensor& x, const QuantParams& params, const IntFormat& format,
                              const GranularitySpec& spec) {
  check_format(format, "quantize");
  const ParamLayout layout = layout_of(x.shape(), spec, "quantize");
  check_params(params, layout, x.shape(), "quantize");
  check_zero_points(params, format, "quantize");
  std::vector<int32_t> codes(x.numel());
  const float* data = x.data();
  const int qmin = format.qmin(), qmax = format.qmax();
  const int64_t cols = row_length(x.shape()), rows = x.numel() / cols;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = r * cols; i < (r + 1) * cols; ++i) {
      const int64_t p = layout.index(i);
      codes[i] = quantize_value(data[i], 1.0f / params.scales[p], params.zero_points[p], qmin, qmax);
    }
  }
  return codes;
}

Tensor dequantize(const std::vector<int32_t>& codes, const Shape& shape, const QuantParams& params,
                  const GranularitySpec& spec) {
  if (static_cast<int64_t>(codes.size()) != shape.numel()) {
    throw std::invalid_argument("dequantize: " + std::to_string(codes.size()) + " codes for shape " +
                                shape.to_string() + " with " + std::to_string(shape.numel()) + " elements");
  }
  const ParamLayout layout = layout_of(shape, spec, "dequantize");
  check_params(params, layout, shape, "dequantize");
  Tensor out(shape);
  float* data = out.data();
  const int64_t cols = row_length(shape), rows = shape.numel() / cols;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = r * cols; i < (r + 1) * cols; ++i) {
      const int64_t p = layout.index(i);
      data[i] = dequantize_value(codes[i], params.scales[p], params.zero_points[p]);
    }
  }
  return out;
}

Tensor fake_quantize(const Tensor& x, const QuantParams& params, const IntFormat& format,
                     const GranularitySpec& spec) {
  check_format(format, "fake_quantize");
  const ParamLayout layout = layout_of(x.shape(), spec, "fake_quantize");
  check_params(params, layout, x.shape(), "fake_quantize");
  check_zero_points(params, format, "fake_quantize");
  Tensor out(x.shape());
  const float* in = x.data();
  float* data = out.data();
  const int qmin = format.qmin(), qmax = format.qmax();
  const int64_t cols = row_length(x.shape()), rows = x.numel() / cols;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = r * cols; i < (r + 1) * cols; ++i) {
      const int64_t p = layout.index(i);
      const int32_t code = quantize_value(in[i], 1.0f / params.scales[p], params.zero_points[p], qmin, qmax);
      data[i] = dequantize_value(code, params.scales[p], params.zero_points[p]);
    }
  }
  return out;
}

}  // namespace qforge::fakequant
