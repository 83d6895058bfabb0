#include "fakequant/observers/min_max_observer.h"

#include <algorithm>
#include <limits>

namespace qforge::fakequant {

MinMaxObserver::MinMaxObserver(const QuantizerSpec& spec, int64_t parameter_count)
    : MinMaxObserver(spec, parameter_count, ObserverKind::kMinMax) {}

MinMaxObserver::MinMaxObserver(const QuantizerSpec& spec, int64_t parameter_count, ObserverKind kind)
    : Observer(spec, parameter_count, kind),
      min_(parameter_count, std::numeric_limits<float>::infinity()),
      max_(parameter_count, -std::numeric_limits<float>::infinity()) {}

std::pair<std::vector<float>, std::vector<float>> MinMaxObserver::ranges() const {
  require_observed("ranges");
  return {min_, max_};
}

void MinMaxObserver::accumulate(const Tensor& x, const ParameterLayout& layout) {
  std::vector<float> batch_min, batch_max;
  batch_min_max(x, layout, batch_min, batch_max);
  combine(batch_min, batch_max);
}

// min and max of the global batch are the min and max over ranks of the shards' (exact).
void MinMaxObserver::accumulate_across_ranks(const Tensor& x, RankReduction& ranks) {
  std::vector<float> batch_min, batch_max;
  batch_min_max(x, parameter_layout(x.shape(), spec().granularity, parameter_count(), name()), batch_min, batch_max);
  ranks.min(batch_min);
  ranks.max(batch_max);
  combine(batch_min, batch_max);
}

void MinMaxObserver::combine(const std::vector<float>& batch_min, const std::vector<float>& batch_max) {
  for (size_t p = 0; p < min_.size(); ++p) {
    min_[p] = std::min(min_[p], batch_min[p]);
    max_[p] = std::max(max_[p], batch_max[p]);
  }
}

void MinMaxObserver::save_statistics(std::vector<float>& out) const {
  out.insert(out.end(), min_.begin(), min_.end());
  out.insert(out.end(), max_.begin(), max_.end());
}

void MinMaxObserver::load_statistics(const float* in) {
  std::copy(in, in + min_.size(), min_.begin());
  std::copy(in + min_.size(), in + 2 * min_.size(), max_.begin());
}

}  // namespace qforge::fakequant
