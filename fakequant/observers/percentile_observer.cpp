#include "fakequant/observers/percentile_observer.h"

#include <algorithm>
#include <cmath>

namespace qforge::fakequant {

PercentileObserver::PercentileObserver(const QuantizerSpec& spec, int64_t parameter_count)
    : Observer(spec, parameter_count, ObserverKind::kPercentile), low_(parameter_count, 0.0f), high_(parameter_count, 0.0f) {
  // validate() has checked 0 < p <= 100; the two tails of an asymmetric range must not cross.
  const double p = spec.observer.percentile;
  if (!has_symmetric_grid(spec) && p < 50.0) {
    fail("an asymmetric range clips at 100 - p and p, so the percentile must be in [50, 100], got " + std::to_string(p));
  }
}

std::pair<std::vector<float>, std::vector<float>> PercentileObserver::ranges() const {
  require_observed("ranges");
  if (!has_symmetric_grid(spec())) return {low_, high_};
  std::vector<float> low(high_.size());
  std::transform(high_.begin(), high_.end(), low.begin(), [](float t) { return -t; });
  return {low, high_};
}

void PercentileObserver::accumulate(const Tensor& x, const ParameterLayout& layout) {
  std::vector<std::vector<float>> values = values_by_parameter(x, layout);
  const double p = spec().observer.percentile;
  const bool symmetric = has_symmetric_grid(spec());
  // Cumulative average: the k-th batch gets weight 1/k, so every batch counts equally.
  const float weight = 1.0f / static_cast<float>(steps() + 1);
#pragma omp parallel for schedule(dynamic) if (layout.count > 1 && x.numel() >= kParallelMinElements)
  for (int64_t q = 0; q < layout.count; ++q) {
    std::vector<float>& v = values[q];
    float low = 0.0f, high = 0.0f;
    if (symmetric) {
      for (float& value : v) value = std::fabs(value);
      high = static_cast<float>(exact_percentile(v, p));
    } else {
      low = static_cast<float>(exact_percentile(v, 100.0 - p));
      high = static_cast<float>(exact_percentile(v, p));
    }
    low_[q] += weight * (low - low_[q]);
    high_[q] += weight * (high - high_[q]);
  }
}

void PercentileObserver::save_statistics(std::vector<float>& out) const {
  out.insert(out.end(), low_.begin(), low_.end());
  out.insert(out.end(), high_.begin(), high_.end());
}

void PercentileObserver::load_statistics(const float* in) {
  std::copy(in, in + low_.size(), low_.begin());
  std::copy(in + low_.size(), in + 2 * low_.size(), high_.begin());
}

}  // namespace qforge::fakequant
