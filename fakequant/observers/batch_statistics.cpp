#include "fakequant/observers/batch_statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace qforge::fakequant {
namespace {

constexpr int64_t kCountChunk = int64_t{1} << 24;

}  // namespace

ParameterLayout parameter_layout(const Shape& shape, const GranularitySpec& granularity, int64_t expected,
                                 const std::string& context) {
  const int64_t count = parameter_count(shape, granularity);  // throws when the granularity does not fit
  if (count != expected) {
    throw std::invalid_argument(context + ": a tensor of shape " + shape.to_string() + " has " + std::to_string(count) +
                                " quantization parameters, expected " + std::to_string(expected));
  }
  return layout_of(shape, granularity, context.c_str());
}

void batch_min_max(const Tensor& x, const ParameterLayout& layout, std::vector<float>& mins,
                   std::vector<float>& maxs) {
  mins.assign(layout.count, std::numeric_limits<float>::infinity());
  maxs.assign(layout.count, -std::numeric_limits<float>::infinity());
  const float* data = x.data();
  // Runs of `inner` elements share a parameter. min/max are exact, so the per-thread partial
  // results combine to the same answer in any order.
  const int64_t runs = layout.inner > 0 ? x.numel() / layout.inner : 0;
#pragma omp parallel if (x.numel() >= kParallelMinElements)
  {
    std::vector<float> local_min(layout.count, std::numeric_limits<float>::infinity());
    std::vector<float> local_max(layout.count, -std::numeric_limits<float>::infinity());
#pragma omp for schedule(static) nowait
    for (int64_t run = 0; run < runs; ++run) {
      const int64_t p = run % layout.count;
      float low = local_min[p], high = local_max[p];
      const float* values = data + run * layout.inner;
      // Branch-free so it vectorizes (this runs on every weight every QAT step): a NaN compares
      // false both ways and so never replaces low or high, which is what skipping it means.
#pragma omp simd reduction(min : low) reduction(max : high)
      for (int64_t i = 0; i < layout.inner; ++i) {
        const float v = values[i];
        low = v < low ? v : low;
        high = v > high ? v : high;
      }
      local_min[p] = low;
      local_max[p] = high;
    }
#pragma omp critical
    for (int64_t p = 0; p < layout.count; ++p) {
      mins[p] = std::min(mins[p], local_min[p]);
      maxs[p] = std::max(maxs[p], local_max[p]);
    }
  }
}

std::vector<std::vector<float>> values_by_parameter(const Tensor& x, const ParameterLayout& layout) {
  std::vector<std::vector<float>> values(layout.count);
  const int64_t per_parameter = x.numel() / layout.count;
  for (auto& v : values) v.reserve(per_parameter);
  const float* data = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) values[layout.index(i)].push_back(data[i]);
  return values;
}

double exact_percentile(std::vector<float>& values, double q) {
  values.erase(std::remove_if(values.begin(), values.end(), [](float v) { return std::isnan(v); }), values.end());
  if (values.empty()) return 0.0;
  const double position = (q / 100.0) * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const double t = position - static_cast<double>(below);
  std::nth_element(values.begin(), values.begin() + below, values.end());
  const double a = values[below];
  if (below + 1 >= values.size()) return a;
  const double b = *std::min_element(values.begin() + below + 1, values.end());
  // numpy's _lerp: a + (b - a) t, evaluated from the upper end when t >= 0.5 for monotonicity.
  const double difference = b - a;
  return t >= 0.5 ? b - difference * (1.0 - t) : a + difference * t;
}

bool has_symmetric_grid(const QuantizerSpec& spec) { return spec.format != ElementFormat::kInt || spec.symmetric; }

void append_count(std::vector<float>& state, int64_t count) {
  state.push_back(static_cast<float>(count % kCountChunk));
  state.push_back(static_cast<float>(count / kCountChunk));
}

int64_t read_count(const float* two_floats, const std::string& context) {
  for (int i = 0; i < 2; ++i) {
    const float part = two_floats[i];
    if (!(part >= 0.0f && part < static_cast<float>(kCountChunk)) || part != std::floor(part)) {
      throw std::invalid_argument(context + ": state holds " + std::to_string(part) +
                                  " where a count part (an integer in [0, 2^24)) belongs");
    }
  }
  return static_cast<int64_t>(two_floats[0]) + static_cast<int64_t>(two_floats[1]) * kCountChunk;
}

}  // namespace qforge::fakequant
