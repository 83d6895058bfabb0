#include "fakequant/observers/mse_observer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fakequant/value_grid.h"

namespace qforge::fakequant {
namespace {

constexpr int64_t kSampleBudget = int64_t{1} << 18;
constexpr int64_t kMinSamplesPerParameter = 256;

// SplitMix64 finaliser (Steele et al. 2014): a counter-based hash standing in for the random
// draw of reservoir sampling, so the sample depends only on (parameter, position).
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

int64_t reservoir_capacity(const QuantizerSpec& spec, int64_t parameter_count) {
  if (spec.granularity.kind == Granularity::kPerGroup) return spec.granularity.group_size;
  return std::max(kMinSamplesPerParameter, kSampleBudget / std::max<int64_t>(parameter_count, 1));
}

}  // namespace

MseObserver::MseObserver(const QuantizerSpec& spec, int64_t parameter_count)
    : Observer(spec, parameter_count, ObserverKind::kMse),
      capacity_(reservoir_capacity(spec, parameter_count)),
      min_(parameter_count, std::numeric_limits<float>::infinity()),
      max_(parameter_count, -std::numeric_limits<float>::infinity()),
      seen_(parameter_count, 0),
      samples_(parameter_count * capacity_, 0.0f) {
  if (spec.observer.search_steps < 1) fail("search_steps must be >= 1, got " + std::to_string(spec.observer.search_steps));
}

void MseObserver::accumulate(const Tensor& x, const ParameterLayout& layout) {
  ratios_.clear();
  std::vector<float> batch_min, batch_max;
  batch_min_max(x, layout, batch_min, batch_max);
  for (int64_t p = 0; p < layout.count; ++p) {
    min_[p] = std::min(min_[p], batch_min[p]);
    max_[p] = std::max(max_[p], batch_max[p]);
  }
  const float* data = x.data();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (std::isnan(data[i])) continue;
    const int64_t p = layout.index(i);
    const int64_t position = seen_[p]++;
    int64_t slot = position;
    if (position >= capacity_) {
      // Algorithm R: the n-th value (0-based) replaces a uniform slot among n + 1 with probability C / (n + 1).
      const uint64_t key = mix(static_cast<uint64_t>(p) * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(position));
      slot = static_cast<int64_t>(key % static_cast<uint64_t>(position + 1));
      if (slot >= capacity_) continue;
    }
    samples_[p * capacity_ + slot] = data[i];
  }
}

float MseObserver::search_parameter(int64_t p, bool parallel_candidates) const {
  const int64_t count = std::min(seen_[p], capacity_);
  if (count == 0) return 1.0f;
  const float* values = samples_.data() + p * capacity_;
  const QuantizerSpec& s = spec();
  const int steps = s.observer.search_steps;
  const bool symmetric = has_symmetric_grid(s);
  const float absmax = std::max(std::fabs(min_[p]), std::fabs(max_[p]));
  std::vector<double> errors(steps);
#pragma omp parallel for schedule(static) if (parallel_candidates && count * steps >= kParallelMinElements)
  for (int k = 0; k < steps; ++k) {
    const float alpha = static_cast<float>(steps - k) / static_cast<float>(steps);
    const ScaleAndZeroPoint chosen = symmetric ? choose_scale(-alpha * absmax, alpha * absmax, s)
                                               : choose_scale(alpha * min_[p], alpha * max_[p], s);
    double error = 0.0;
    for (int64_t i = 0; i < count; ++i) {
      const double d = fake_quantize_value(values[i], chosen.scale, chosen.zero_point, s) - values[i];
      error += d * d;
    }
    errors[k] = error;
  }
  // First minimum = largest alpha among equals.
  const int best = static_cast<int>(std::min_element(errors.begin(), errors.end()) - errors.begin());
  return static_cast<float>(steps - best) / static_cast<float>(steps);
}

const std::vector<float>& MseObserver::search() const {
  if (!ratios_.empty()) return ratios_;
  const int64_t count = parameter_count();
  std::vector<float> ratios(count);
#pragma omp parallel for schedule(dynamic) if (count > 1 && count * capacity_ >= kParallelMinElements)
  for (int64_t p = 0; p < count; ++p) ratios[p] = search_parameter(p, count == 1);
  ratios_ = std::move(ratios);
  return ratios_;
}

std::vector<float> MseObserver::reservoir(int64_t p) const {
  const float* begin = samples_.data() + p * capacity_;
  return {begin, begin + std::min(seen_.at(p), capacity_)};
}

std::vector<float> MseObserver::clipping_ratios() const {
  require_observed("clipping_ratios");
  return search();
}

std::pair<std::vector<float>, std::vector<float>> MseObserver::ranges() const {
  require_observed("ranges");
  const std::vector<float>& ratios = search();
  const bool symmetric = has_symmetric_grid(spec());
  std::vector<float> low(min_.size()), high(min_.size());
  for (size_t p = 0; p < min_.size(); ++p) {
    if (seen_[p] == 0) {
      low[p] = min_[p];
      high[p] = max_[p];
      continue;
    }
    const float absmax = std::max(std::fabs(min_[p]), std::fabs(max_[p]));
    low[p] = symmetric ? -ratios[p] * absmax : ratios[p] * min_[p];
    high[p] = symmetric ? ratios[p] * absmax : ratios[p] * max_[p];
  }
  return {low, high};
}

size_t MseObserver::statistics_size() const { return 4 * min_.size() + samples_.size(); }

void MseObserver::save_statistics(std::vector<float>& out) const {
  out.insert(out.end(), min_.begin(), min_.end());
  out.insert(out.end(), max_.begin(), max_.end());
  for (int64_t seen : seen_) append_count(out, seen);
  out.insert(out.end(), samples_.begin(), samples_.end());
}

void MseObserver::load_statistics(const float* in) {
  ratios_.clear();
  const size_t n = min_.size();
  std::copy(in, in + n, min_.begin());
  std::copy(in + n, in + 2 * n, max_.begin());
  for (size_t p = 0; p < n; ++p) seen_[p] = read_count(in + 2 * n + 2 * p, name());
  std::copy(in + 4 * n, in + 4 * n + samples_.size(), samples_.begin());
}

}  // namespace qforge::fakequant
